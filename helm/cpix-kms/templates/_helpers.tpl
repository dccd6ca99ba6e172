{{/*
Chart name, truncated to the 63 characters of a DNS label.
*/}}
{{- define "cpix-kms.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart>, or the release name alone when it already contains the chart name.
*/}}
{{- define "cpix-kms.fullname" -}}
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

{{- define "cpix-kms.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cpix-kms.labels" -}}
helm.sh/chart: {{ include "cpix-kms.chart" . }}
{{ include "cpix-kms.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cpix-kms.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cpix-kms.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cpix-kms.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cpix-kms.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository@digest when a digest is given, repository:tag otherwise.
*/}}
{{- define "cpix-kms.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Folder where the secret files of existingSecret are mounted; the *_FILE variables point into it.
*/}}
{{- define "cpix-kms.secretsDir" -}}
/etc/cpix-kms/secrets
{{- end }}

{{/*
Fail the render on combinations the service would reject at start-up, or that lose data.
*/}}
{{- define "cpix-kms.validate" -}}
{{- if not .Values.existingSecret }}
{{- fail "existingSecret is required: the name of a Secret holding the admin token, both signing identities (and the master key or store URL); see the chart README" }}
{{- end }}
{{- if and (eq .Values.store.type "sqlite") (or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1)) }}
{{- fail "store.type=sqlite allows a single replica only: set replicaCount=1 and autoscaling.enabled=false, or use store.type=redis" }}
{{- end }}
{{- if eq .Values.masterKey.provider "aws-kms" }}
{{- if not .Values.masterKey.awsKms.keyId }}
{{- fail "masterKey.awsKms.keyId is required when masterKey.provider=aws-kms" }}
{{- end }}
{{- if not .Values.masterKey.awsKms.region }}
{{- fail "masterKey.awsKms.region is required when masterKey.provider=aws-kms" }}
{{- end }}
{{- end }}
{{- range $name := list "signingKey" "signingCert" "exportSigningKey" "exportSigningCert" }}
{{- if not (get $.Values.secretKeys $name) }}
{{- fail (printf "secretKeys.%s is required: with NODE_ENV=production the service does not start without both signing identities; see the chart README" $name) }}
{{- end }}
{{- end }}
{{- if or (eq .Values.secretKeys.exportSigningKey .Values.secretKeys.signingKey) (eq .Values.secretKeys.exportSigningCert .Values.secretKeys.signingCert) }}
{{- fail "secretKeys.exportSigningKey/exportSigningCert must name other keys than signingKey/signingCert: license exports need their own signing key (the service refuses to start with one key for both)" }}
{{- end }}
{{- if and (gt (int .Values.config.maxKeysCreatedPerMinute) 0) (lt (int .Values.config.maxKeysCreatedPerMinute) (int .Values.config.maxKeysPerRequest)) }}
{{- fail "config.maxKeysCreatedPerMinute must be 0 or at least config.maxKeysPerRequest (the service refuses to start otherwise)" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- end }}
