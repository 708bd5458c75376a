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

{{/* The MLSTEPS_* variables every step reads (see mlsteps.config.ENV_DEFAULTS). */}}
{{- define "mlsteps.env" -}}
- name: MLSTEPS_DATA_DIR
  value: /data
- name: MLSTEPS_DATASET
  value: {{ .Values.dataset | quote }}
- name: MLSTEPS_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}

{{/* The claim every pod mounts at /data, plus a writable /tmp under the read-only root. */}}
{{- define "mlsteps.volumes" -}}
- name: data
  persistentVolumeClaim:
    claimName: {{ include "mlsteps.fullname" . }}-data
- name: tmp
  emptyDir: {}
{{- end }}

{{/* Where the volumes above appear in each container. */}}
{{- define "mlsteps.volumeMounts" -}}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- end }}
