{{/* The chart name (mlsteps), or nameOverride; used in the app.kubernetes.io/name label. */}}
{{- define "mlsteps.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object name: the release name when it already contains the chart name (release "mlsteps" gives mlsteps-serve, as at level 3), else <release>-<chart>. */}}
{{- define "mlsteps.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Chart name and version for the helm.sh/chart label. */}}
{{- define "mlsteps.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object: the level-3 labels plus the three Helm adds (chart, version, managed-by). */}}
{{- define "mlsteps.labels" -}}
helm.sh/chart: {{ include "mlsteps.chart" . }}
{{ include "mlsteps.selectorLabels" . }}
app.kubernetes.io/part-of: mlsteps
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The stable pair selectors use: name and instance never change on upgrade. */}}
{{- define "mlsteps.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlsteps.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The image every pod runs; the tag defaults to the chart's appVersion. */}}
{{- define "mlsteps.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* One container's settings as level 3 passes them: the settings ConfigMap (envFrom), then the data dir, serve's address ("serve" true) and the signing key from its Secret ("signing" true). */}}
{{- define "mlsteps.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "mlsteps.fullname" .root }}-settings  # every MLSTEPS_* setting, shared by all the steps
{{- if .root.Values.store }}
  - secretRef:  # AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the store (MLSTEPS_STORE): never in values or git
      name: {{ include "mlsteps.storeSecret" .root }}
{{- end }}
env:
{{- if .root.Values.store }}
{{- with include "mlsteps.storeEndpoint" .root }}
  - name: AWS_ENDPOINT_URL  # the store's S3 endpoint, read as every AWS SDK reads it (none: AWS S3 itself)
    value: {{ . | quote }}
{{- end }}
  - name: AWS_REGION
    value: {{ .root.Values.storeAccess.region | quote }}
{{- end }}
  - name: MLSTEPS_DATA_DIR
    value: /data  # the claim's mount path
{{- if .serve }}
  - name: MLSTEPS_HOST
    value: 0.0.0.0  # listen on the pod's address, not only on its loopback
  - name: MLSTEPS_PORT
    value: "8000"
{{- end }}
{{- if .signing }}
  - name: MLSTEPS_SIGNING_KEY  # train signs, serve verifies; no Secret: models are unsigned
    valueFrom:
      secretKeyRef:
        name: {{ include "mlsteps.fullname" .root }}-signing
        key: key
        optional: true
{{- end }}
{{- if .apiKey }}
  - name: MLSTEPS_API_KEY  # with the Secret, /predict, /model and /metrics need `Authorization: Bearer <key>`
    valueFrom:
      secretKeyRef:
        name: {{ .root.Values.serve.apiKey.existingSecret | default (printf "%s-api-key" (include "mlsteps.fullname" .root)) }}
        key: {{ .root.Values.serve.apiKey.key }}
        {{- if not .root.Values.serve.apiKey.existingSecret }}
        optional: true
        {{- end }}
{{- end }}
{{- end }}

{{/* checkov findings that do not apply here, the same skips as level 3 (checkov.io/skipN: ID=reason). */}}
{{- define "mlsteps.checkovSkips" -}}
checkov.io/skip1: CKV_K8S_43=The image is built inside minikube and never pushed, so it has no registry digest; the tag is pinned instead.
checkov.io/skip2: CKV_K8S_15=IfNotPresent on purpose, Always would try to pull a locally built image from a registry.
checkov.io/skip3: CKV_K8S_21=Helm installs into the namespace the learner chose (helm install -n), not a hard-coded one.
{{- end }}

{{/* For the Deployment and the import Job: checkov reads the graph check's skip from the object that holds the Pod. */}}
{{- define "mlsteps.networkPolicySkip" -}}
checkov.io/skip4: CKV2_K8S_6=No NetworkPolicy on purpose, minikube's default network does not enforce one, so a policy would only look like isolation.
{{- end }}

{{/* For the objects whose pods get the signing key (train, and serve with its bootstrap init container). */}}
{{- define "mlsteps.secretEnvSkip" -}}
checkov.io/skip5: CKV_K8S_35=The signing key is one setting among the MLSTEPS_* variables, from an optional Secret; the container runs nothing else that could read its environment.
{{- end }}

{{/* The claim every pod mounts at /data, and a writable /tmp under the read-only root. */}}
{{- define "mlsteps.volumes" -}}
{{- if .Values.store -}}
- name: data  # no claim: snapshots, models, the prediction log and the reports live in the store (MLSTEPS_STORE); /data stays an empty folder
  emptyDir: {}
{{- else -}}
- name: data
  persistentVolumeClaim:
    claimName: {{ include "mlsteps.fullname" . }}-data
{{- end }}
- name: tmp
  emptyDir: {}
{{- end }}

{{/* Where those volumes appear in each container; serve without its prediction log ("readOnly" true) only reads the claim, its bootstrap init container ("bootstrap" true) may write it. */}}
{{- define "mlsteps.volumeMounts" -}}
- name: data
  mountPath: /data
{{- if .readOnly }}
  readOnly: true  # serve without its prediction log never writes the volume
{{- else if .bootstrap }}
  # read-write: it may publish the first model
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Checks the values schema cannot say in a sentence: each cron field in its range, names short enough, min <= max replicas, a model to import when serve-only, no "latest" tag. */}}
{{- define "mlsteps.validate" -}}
{{- $cronJob := printf "%s-load-data" (include "mlsteps.fullname" .) }}
{{- if gt (len $cronJob) 52 }}
{{- fail (printf "the CronJob name %q is %d characters long and Kubernetes allows 52 (it adds 11 for each Job): use a release name of at most 34 characters, or one with \"mlsteps\" in it, or a shorter fullnameOverride." $cronJob (len $cronJob)) }}
{{- end }}
{{- include "mlsteps.checkSchedule" (dict "key" "loadData.schedule" "schedule" .Values.loadData.schedule) }}
{{- include "mlsteps.checkSchedule" (dict "key" "train.schedule" "schedule" .Values.train.schedule) }}
{{- $autoscaling := .Values.serve.autoscaling }}
{{- if and $autoscaling.enabled (gt (int $autoscaling.minReplicas) (int $autoscaling.maxReplicas)) }}
{{- fail (printf "serve.autoscaling.minReplicas (%d) is larger than serve.autoscaling.maxReplicas (%d): the autoscaler needs min <= max." (int $autoscaling.minReplicas) (int $autoscaling.maxReplicas)) }}
{{- end }}
{{- if and .Values.serveOnly (not .Values.importModel.url) }}
{{- fail "serveOnly is true and importModel.url is empty: with no train, serve needs a model to import; set importModel.url to your model file's http(s) URL." }}
{{- end }}
{{- if eq .Values.image.tag "latest" }}
{{- fail "image.tag \"latest\" is refused: pin a version (e.g. 0.1.0), so every pod runs the same, known image." }}
{{- end }}
{{- end }}

{{/* One cron schedule, field by field (the schema has checked there are five): a sentence names the field out of range. The ranges are the API server's (robfig/cron v3): day-of-week 0-6, Sunday is 0, never 7. */}}
{{- define "mlsteps.checkSchedule" -}}
{{- $key := .key }}
{{- $schedule := .schedule }}
{{- if not (hasPrefix "@" $schedule) }}
{{- $months := list "JAN" "FEB" "MAR" "APR" "MAY" "JUN" "JUL" "AUG" "SEP" "OCT" "NOV" "DEC" }}
{{- $days := list "SUN" "MON" "TUE" "WED" "THU" "FRI" "SAT" }}
{{- $fields := list (dict "name" "minute" "min" 0 "max" 59 "names" (list)) (dict "name" "hour" "min" 0 "max" 23 "names" (list)) (dict "name" "day-of-month" "min" 1 "max" 31 "names" (list)) (dict "name" "month" "min" 1 "max" 12 "names" $months) (dict "name" "day-of-week" "min" 0 "max" 6 "names" $days) }}
{{- range $i, $text := regexSplit " +" (trim $schedule) -1 }}
{{- $field := index $fields $i }}
{{- $where := printf "%s %q: the %s field %q" $key $schedule $field.name $text }}
{{- range $item := splitList "," $text }}
{{- $parts := splitList "/" $item }}
{{- if or (gt (len $parts) 2) (and (eq (len $parts) 2) (not (regexMatch "^[1-9][0-9]*$" (index $parts 1)))) }}
{{- fail (printf "%s has a bad step in %q: write */N or a-b/N with N a whole number from 1." $where $item) }}
{{- end }}
{{- $base := index $parts 0 }}
{{- if not (has $base (list "*" "?")) }}
{{- $bounds := splitList "-" $base }}
{{- if gt (len $bounds) 2 }}
{{- fail (printf "%s has a bad range %q: write a-b." $where $base) }}
{{- end }}
{{- range $value := $bounds }}
{{- if regexMatch "^[0-9]+$" $value }}
{{- if or (lt (atoi $value) $field.min) (gt (atoi $value) $field.max) }}
{{- fail (printf "%s is out of range: %s must be %d-%d." $where $field.name $field.min $field.max) }}
{{- end }}
{{- else if not (has (upper $value) $field.names) }}
{{- fail (printf "%s has %q, which is not a %s (%d-%d%s)." $where $value $field.name $field.min $field.max (ternary (printf " or %s-%s" (first $field.names | default "") (last $field.names | default "")) "" (gt (len $field.names) 0))) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The store's S3 endpoint: storeAccess.endpoint, else the in-cluster SeaweedFS's Service. */}}
{{- define "mlsteps.storeEndpoint" -}}
{{- if .Values.storeAccess.endpoint }}{{ .Values.storeAccess.endpoint }}{{ else if .Values.seaweedfs.enabled }}http://{{ include "mlsteps.fullname" . }}-store:8333{{ end }}
{{- end }}

{{/* The Secret with the store's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. */}}
{{- define "mlsteps.storeSecret" -}}
{{- .Values.storeAccess.existingSecret | default (printf "%s-store" (include "mlsteps.fullname" .)) }}
{{- end }}

{{/* For the pods that get the store's key pair as AWS_* variables and have no other secret in their environment. */}}
{{- define "mlsteps.storeSecretSkip" -}}
checkov.io/skip5: CKV_K8S_35=The store's key pair reaches the AWS SDK as the AWS_* variables it reads, from a Secret; the container runs nothing else that could read its environment.
{{- end }}
