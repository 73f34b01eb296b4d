{{- define "infrabot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "infrabot.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "infrabot.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "infrabot.image" -}}
{{- printf "%s:%s" .repository (default .appVersion .tag) -}}
{{- end -}}

{{- define "infrabot.storesSecret" -}}
{{- default (printf "%s-stores" (include "infrabot.fullname" .)) .Values.stores.existingSecret -}}
{{- end -}}
{{- define "infrabot.workerSecret" -}}
{{- default (printf "%s-worker" (include "infrabot.fullname" .)) .Values.worker.existingSecret -}}
{{- end -}}
{{- define "infrabot.slackSecret" -}}
{{- default (printf "%s-slack" (include "infrabot.fullname" .)) .Values.slack.existingSecret -}}
{{- end -}}
{{- define "infrabot.discordSecret" -}}
{{- default (printf "%s-discord" (include "infrabot.fullname" .)) .Values.discord.existingSecret -}}
{{- end -}}
{{- define "infrabot.chatServiceAccount" -}}
{{- default (printf "%s-chat" (include "infrabot.fullname" .)) .Values.chatServiceAccount.name -}}
{{- end -}}
{{- define "infrabot.workerServiceAccount" -}}
{{- default (printf "%s-worker" (include "infrabot.fullname" .)) .Values.worker.serviceAccount.name -}}
{{- end -}}

{{/* Settings and store URLs: what every process gets. */}}
{{- define "infrabot.commonEnvFrom" -}}
- configMapRef:
    name: {{ include "infrabot.fullname" . }}-config
- secretRef:
    name: {{ include "infrabot.storesSecret" . }}
{{- end -}}

{{- define "infrabot.probes" -}}
livenessProbe:
  httpGet: {path: /livez, port: {{ .port }}}
  periodSeconds: 15
  failureThreshold: 4
readinessProbe:
  httpGet: {path: /readyz, port: {{ .port }}}
  periodSeconds: 10
  failureThreshold: 3
{{- end -}}
