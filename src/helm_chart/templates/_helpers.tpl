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

{{/* One container's MLSTEPS_* variables as level 3 sets them: data dir, dataset ("dataset" true), address ("serve" true), the pipeline and its grid ("pipeline" true), the signing key ("signing" true), then extraEnv. */}}
{{- define "mlsteps.env" -}}
- name: MLSTEPS_DATA_DIR
  value: /data
{{- if .dataset }}
- name: MLSTEPS_DATASET
  value: {{ .root.Values.dataset | quote }}
{{- end }}
{{- if .pipeline }}
- name: MLSTEPS_PIPELINE
  value: {{ .root.Values.pipeline | quote }}  # empty: the task's default
- name: MLSTEPS_PARAM_GRID
  value: {{ .root.Values.paramGrid | quote }}  # empty: no tuning
{{- end }}
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
{{- range $name, $value := .root.Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}

{{/* checkov findings that do not apply here, the same skips as level 3 (checkov.io/skipN: ID=reason). */}}
{{- define "mlsteps.checkovSkips" -}}
checkov.io/skip1: CKV_K8S_43=The image is built inside minikube and never pushed, so it has no registry digest; the tag is pinned instead.
checkov.io/skip2: CKV_K8S_15=IfNotPresent on purpose, Always would try to pull a locally built image from a registry.
checkov.io/skip3: CKV_K8S_21=Helm installs into the namespace the learner chose (helm install -n), not a hard-coded one.
{{- end }}

{{/* For the objects that hold a Pod (Deployment, Job): checkov reads the graph check's skip from there. */}}
{{- define "mlsteps.networkPolicySkip" -}}
checkov.io/skip4: CKV2_K8S_6=No NetworkPolicy on purpose, minikube's default network does not enforce one; serve must take traffic from any pod and the job pods listen on nothing.
{{- end }}

{{/* For the objects whose pods get the signing key (bootstrap, train, serve). */}}
{{- define "mlsteps.secretEnvSkip" -}}
checkov.io/skip5: CKV_K8S_35=The signing key is one setting among the MLSTEPS_* variables, from an optional Secret; the container runs nothing else that could read its environment.
{{- end }}

{{/* The claim every pod mounts at /data, and a writable /tmp under the read-only root. */}}
{{- define "mlsteps.volumes" -}}
- name: data
  persistentVolumeClaim:
    claimName: {{ include "mlsteps.fullname" . }}-data
- name: tmp
  emptyDir: {}
{{- end }}

{{/* Where those volumes appear in each container; serve ("readOnly" true) only reads the claim. */}}
{{- define "mlsteps.volumeMounts" -}}
- name: data
  mountPath: /data
{{- if .readOnly }}
  readOnly: true  # serve never writes the volume
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end }}
