{{/*
Names, labels, and the parts every pod shares (environment, secret files, volumes, security
contexts), each written once here.
*/}}

{{- define "hospital.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hospital.fullname" -}}
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

{{/* A component's object name: (dict "root" $ "component" "web"). */}}
{{- define "hospital.componentName" -}}
{{- printf "%s-%s" (include "hospital.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hospital.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hospital.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "hospital.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "hospital.selectorLabels" . }}
app.kubernetes.io/part-of: {{ include "hospital.name" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{- define "hospital.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "hospital.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hospital.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "hospital.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "hospital.fullname" .) }}
{{- end }}

{{- define "hospital.publicHost" -}}
{{- .Values.publicHost | default .Values.baseDomain }}
{{- end }}

{{/*
The Secret's keys a pod reads, as NAME: key; each becomes the file /run/secrets/hospital/<key>
and the variable NAME_FILE. Only these keys are mounted, so a branch's pod never holds the
owner's URL: (dict "root" $ "owner" true|false).
*/}}
{{- define "hospital.secretFiles" -}}
{{- $v := .root.Values -}}
SECRET_KEY: secret-key
DATABASE_URL: {{ ternary "database-owner-url" "database-url" .owner }}
REDIS_URL: redis-url
{{- if $v.cache.urlFromSecret }}
CACHE_URL: cache-url
{{- end }}
{{- if $v.email.user }}
EMAIL_HOST_PASSWORD: email-host-password
{{- end }}
{{- if and $v.s3.bucket $v.s3.accessKeysFromSecret }}
S3_ACCESS_KEY_ID: s3-access-key-id
S3_SECRET_ACCESS_KEY: s3-secret-access-key
{{- end }}
{{- end }}

{{- define "hospital.mediaRoot" -}}
/var/lib/hospital/media
{{- end }}

{{/*
The environment of every container: (dict "root" $ "owner" bool "media" bool "env" list).
Only names and file paths: every secret value is read from a file.
*/}}
{{- define "hospital.env" -}}
{{- $v := .root.Values -}}
- name: HOSPITAL_ENV
  value: production
- name: BASE_DOMAIN
  value: {{ $v.baseDomain | quote }}
- name: PUBLIC_HOST
  value: {{ include "hospital.publicHost" .root | quote }}
- name: ALLOWED_HOSTS
  value: {{ $v.settings.allowedHosts | default (list $v.baseDomain (printf ".%s" $v.baseDomain) (include "hospital.publicHost" .root)) | uniq | join "," | quote }}
{{- with $v.settings.allowedCountries }}
- name: ALLOWED_COUNTRIES
  value: {{ join "," . | quote }}
{{- end }}
- name: SITE_SCHEME
  value: {{ $v.settings.siteScheme | quote }}
- name: TRUSTED_PROXY_COUNT
  value: {{ $v.settings.trustedProxyCount | quote }}
- name: LOG_LEVEL
  value: {{ $v.settings.logLevel | quote }}
- name: LOG_JSON
  value: {{ $v.settings.logJson | quote }}
- name: SMS_BACKEND
  value: {{ $v.settings.smsBackend | quote }}
- name: REMINDER_SCAN_SECONDS
  value: {{ $v.settings.reminderScanSeconds | quote }}
- name: SESSION_IDLE_MINUTES
  value: {{ $v.settings.sessionIdleMinutes | quote }}
{{- with $v.email.host }}
- name: EMAIL_HOST
  value: {{ . | quote }}
- name: EMAIL_PORT
  value: {{ $v.email.port | quote }}
- name: EMAIL_USE_TLS
  value: {{ $v.email.useTls | quote }}
{{- end }}
{{- with $v.email.user }}
- name: EMAIL_HOST_USER
  value: {{ . | quote }}
{{- end }}
{{- with $v.email.defaultFrom }}
- name: DEFAULT_FROM_EMAIL
  value: {{ . | quote }}
{{- end }}
{{- if $v.s3.bucket }}
- name: S3_BUCKET
  value: {{ $v.s3.bucket | quote }}
{{- range $name, $value := dict "S3_ENDPOINT_URL" $v.s3.endpointUrl "S3_REGION" $v.s3.region "S3_PREFIX" $v.s3.prefix "S3_ADDRESSING_STYLE" $v.s3.addressingStyle }}
{{- if $value }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- else if .media }}
- name: MEDIA_ROOT
  value: {{ include "hospital.mediaRoot" . }}
{{- end }}
{{- range $name, $key := include "hospital.secretFiles" . | fromYaml }}
- name: {{ $name }}_FILE
  value: /run/secrets/hospital/{{ $key }}
{{- end }}
{{- if and .owner $v.database.appRole }}
- name: DATABASE_APP_ROLE
  value: {{ $v.database.appRole | quote }}
{{- end }}
{{- /* The root file system is read-only: caches (fontconfig, WeasyPrint), heartbeat files
and any default path under the project's .local/ go to the /tmp volume. */}}
- name: HOME
  value: /tmp
- name: XDG_CACHE_HOME
  value: /tmp/cache
- name: HEARTBEAT_DIR
  value: /tmp/heartbeats
- name: HOSPITAL_LOCAL_DIR
  value: /tmp/hospital
{{- with .env }}
{{ toYaml . }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* (dict "root" $ "media" bool "state" bool) */}}
{{- define "hospital.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: secrets
  mountPath: /run/secrets/hospital
  readOnly: true
{{- if and .media (not .root.Values.s3.bucket) .root.Values.media.existingClaim }}
- name: media
  mountPath: {{ include "hospital.mediaRoot" . }}
{{- end }}
{{- if .state }}
- name: state
  mountPath: /var/lib/beat
{{- end }}
{{- end }}

{{/* (dict "root" $ "owner" bool "media" bool "state" bool) */}}
{{- define "hospital.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
- name: secrets
  secret:
    secretName: {{ include "hospital.secretName" .root }}
    defaultMode: 0440
    items:
    {{- range $name, $key := include "hospital.secretFiles" . | fromYaml }}
      - key: {{ $key }}
        path: {{ $key }}
    {{- end }}
{{- if and .media (not .root.Values.s3.bucket) .root.Values.media.existingClaim }}
- name: media
  persistentVolumeClaim:
    claimName: {{ .root.Values.media.existingClaim }}
{{- end }}
{{- if .state }}
- name: state
  emptyDir: {}
{{- end }}
{{- end }}

{{- define "hospital.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "hospital.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* What every pod spec starts with: its account, security context and placement. */}}
{{- define "hospital.podBasics" -}}
serviceAccountName: {{ include "hospital.serviceAccountName" . }}
# The processes never call the Kubernetes API.
automountServiceAccountToken: false
securityContext:
  {{- include "hospital.podSecurityContext" . | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pods restart when the chart-made Secret's values change (they read the files at start). */}}
{{- define "hospital.podAnnotations" -}}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ toJson .Values.secrets | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The web process's probes (web and platform): it answers /healthz and /readyz on any host. */}}
{{- define "hospital.httpProbes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 3
  failureThreshold: 40
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
# 503 while the database does not answer: the pod gets no requests until it does.
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 2
{{- end }}

{{/* A Celery worker's probes. Started: it answers a ping by its node name (NODE@hostname),
so it is connected and consuming (the ping starts a Celery client: heavy, so only at start).
Alive: its own timer touches the heartbeat file worker-NODE every 10 s (workers.celery). That
timer stands still while the broker is away, and restarting the worker would not bring the
broker back, so a stale file passes while the broker does not answer (--unless-broker-down).
Ready: the same (no Service sends to workers; a broker outage must not make every worker
NotReady, which would block node drains under the PodDisruptionBudget). */}}
{{- define "hospital.celeryProbes" -}}
{{- $ping := dict "exec" (dict "command" (list "sh" "-c" (printf "celery -A workers.celery inspect ping --destination %s@$HOSTNAME --timeout 10" .))) "timeoutSeconds" 20 }}
{{- $alive := dict "exec" (dict "command" (list "python" "-m" "config.heartbeat" (printf "worker-%s" .) "60" "--unless-broker-down")) "timeoutSeconds" 10 }}
startupProbe:
  {{- toYaml (merge (dict "periodSeconds" 15 "failureThreshold" 20) $ping) | nindent 2 }}
livenessProbe:
  {{- toYaml (merge (dict "periodSeconds" 30 "failureThreshold" 3) $alive) | nindent 2 }}
readinessProbe:
  {{- toYaml (merge (dict "periodSeconds" 30 "failureThreshold" 2) $alive) | nindent 2 }}
{{- end }}

{{/* Beat's and the relay's probes: the age of their heartbeat file, (list "relay" 120). */}}
{{- define "hospital.heartbeatProbes" -}}
{{- $check := dict "exec" (dict "command" (list "python" "-m" "config.heartbeat" (index . 0) (toString (index . 1)))) "timeoutSeconds" 10 }}
startupProbe:
  {{- toYaml (merge (dict "periodSeconds" 10 "failureThreshold" 30) $check) | nindent 2 }}
livenessProbe:
  {{- toYaml (merge (dict "periodSeconds" 30 "failureThreshold" 3) $check) | nindent 2 }}
readinessProbe:
  {{- toYaml (merge (dict "periodSeconds" 30 "failureThreshold" 2) $check) | nindent 2 }}
{{- end }}

{{/*
A Deployment of one of the platform's processes. Parameters:
  root, component (object name part), process (run_process name), values (its values block),
  replicas (omitted when nil: an autoscaler owns the count), strategy (a dict, or nil),
  owner (connects as the database owner), media (mounts the media volume), state (beat's
  schedule volume), http (serves port 8000), probes (YAML), env (list of extra variables).
*/}}
{{- define "hospital.deployment" -}}
{{- $root := .root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "hospital.componentName" . }}
  labels:
    {{- include "hospital.labels" . | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" .replicas) }}
  replicas: {{ .replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- with .strategy }}
  strategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "hospital.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "hospital.labels" . | nindent 8 }}
      {{- with include "hospital.podAnnotations" $root | trim }}
      annotations:
        {{- . | nindent 8 }}
      {{- end }}
    spec:
      {{- include "hospital.podBasics" $root | nindent 6 }}
      terminationGracePeriodSeconds: {{ .values.terminationGracePeriodSeconds }}
      containers:
        - name: {{ .component }}
          image: {{ include "hospital.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: ["run_process", {{ .process | quote }}]
          {{- if .http }}
          ports:
            - name: http
              containerPort: 8000
              protocol: TCP
          # The ingress stops sending here a few seconds after the pod is told to stop; until
          # then gunicorn keeps accepting.
          lifecycle:
            preStop:
              exec:
                command: ["sleep", "5"]
          {{- end }}
          env:
            {{- include "hospital.env" . | nindent 12 }}
          {{- .probes | trim | nindent 10 }}
          resources:
            {{- toYaml .values.resources | nindent 12 }}
          securityContext:
            {{- include "hospital.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            {{- include "hospital.volumeMounts" . | nindent 12 }}
      volumes:
        {{- include "hospital.volumes" . | nindent 8 }}
{{- end }}
