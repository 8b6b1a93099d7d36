{{/* Service name: .Values.name or the release name. */}}
{{- define "platform.name" -}}
{{- default .Release.Name .Values.name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "platform.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "platform.selectorLabels" -}}
app.kubernetes.io/name: {{ include "platform.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The serving pods only: CronJob pods carry their job's name as component, so the
Service, the PDB and the topology spread never select them. */}}
{{- define "platform.serverSelectorLabels" -}}
{{ include "platform.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end -}}

{{/* The component label of the `helm test` pods (templates/tests/): the NetworkPolicy
admits them and never selects them. */}}
{{- define "platform.testComponent" -}}
helm-test
{{- end -}}

{{/* TRUSTED_PROXY_CIDRS (contract 5): the proxies whose X-Forwarded-For the service
believes. trustedProxyCidrs, or behind the ALB the subnets its NetworkPolicy admits it from,
so the two cannot disagree. */}}
{{- define "platform.trustedProxyCidrs" -}}
{{- $proxies := .Values.trustedProxyCidrs -}}
{{- if and (not $proxies) .Values.ingress.enabled (eq .Values.ingress.className "alb") -}}
{{- $proxies = .Values.networkPolicy.albSourceCidrs -}}
{{- end -}}
{{- join "," $proxies -}}
{{- end -}}

{{/* The cluster serves the Prometheus Operator's API (ServiceMonitor, PrometheusRule). */}}
{{- define "platform.hasMonitoringApi" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end -}}
{{- end -}}

{{- define "platform.labels" -}}
{{ include "platform.selectorLabels" . }}
helm.sh/chart: {{ include "platform.chart" . }}
app.kubernetes.io/version: {{ include "platform.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: platform
{{- end -}}

{{- define "platform.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag | trunc 63 -}}
{{- end -}}

{{- define "platform.image" -}}
{{- $repo := default (include "platform.name" .) .Values.image.repository -}}
{{- if .Values.image.registry -}}{{- $repo = printf "%s/%s" .Values.image.registry $repo -}}{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (include "platform.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{/* Kubelet grace = preStop sleep + the service's drain + grace + margin (see values.yaml). */}}
{{- define "platform.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown -}}
{{- add $s.preStopSleepSeconds $s.drainSeconds $s.graceSeconds $s.marginSeconds -}}
{{- end -}}

{{/* Cross-field rules JSON schema cannot express: fail lint/template with a clear message. */}}
{{- define "platform.validate" -}}
{{- $a := .Values.autoscaling -}}
{{- if and $a.enabled (gt (int $a.minReplicas) (int $a.maxReplicas)) -}}
{{- fail (printf "autoscaling.minReplicas (%v) must be <= autoscaling.maxReplicas (%v)" $a.minReplicas $a.maxReplicas) -}}
{{- end -}}
{{- if and $a.enabled (not (or $a.targetCPUUtilizationPercentage $a.targetMemoryUtilizationPercentage)) -}}
{{- fail "autoscaling.enabled needs targetCPUUtilizationPercentage and/or targetMemoryUtilizationPercentage" -}}
{{- end -}}
{{- if and $a.enabled (not .Values.resources.requests) -}}
{{- fail "autoscaling percentages are relative to resources.requests: set them" -}}
{{- end -}}
{{- if and .Values.serviceMonitor.enabled (not (hasSuffix "s" .Values.serviceMonitor.interval)) -}}
{{- fail "serviceMonitor.interval must be in seconds, e.g. 30s" -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.hosts) -}}
{{- fail "ingress.enabled needs at least one entry in ingress.hosts" -}}
{{- end -}}
{{- $checkTimeout := int .Values.readiness.checkTimeoutSeconds -}}
{{- range $name, $probe := .Values.probes -}}
{{- if le (int $probe.timeoutSeconds) $checkTimeout -}}
{{- fail (printf "probes.%s.timeoutSeconds (%v) must exceed readiness.checkTimeoutSeconds (%v)" $name $probe.timeoutSeconds $checkTimeout) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.ingress.enabled (eq .Values.ingress.className "alb") -}}
{{- if not .Values.ingress.alb.certificateArn -}}
{{- fail "ingress.className alb needs ingress.alb.certificateArn (HTTPS only; Terraform output acm_certificate_arn)" -}}
{{- end -}}
{{- if le (int .Values.ingress.alb.healthCheckTimeoutSeconds) $checkTimeout -}}
{{- fail (printf "ingress.alb.healthCheckTimeoutSeconds (%v) must exceed readiness.checkTimeoutSeconds (%v)" .Values.ingress.alb.healthCheckTimeoutSeconds $checkTimeout) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.ingress.enabled .Values.networkPolicy.enabled (not .Values.networkPolicy.albSourceCidrs) -}}
{{- fail "an Ingress behind the NetworkPolicy needs networkPolicy.albSourceCidrs (the public subnets, Terraform output public_subnet_cidrs), or the load balancer cannot reach the pods" -}}
{{- end -}}
{{- end -}}

{{/* Pod-level security context shared by the Deployment and CronJobs. */}}
{{- define "platform.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "platform.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Environment: the ConfigMap, then raw extra entries. */}}
{{- define "platform.envFrom" -}}
- configMapRef:
    name: {{ include "platform.name" . }}
{{- end -}}

{{/* Pod scheduling fields shared by the Deployment and CronJobs. */}}
{{- define "platform.podScheduling" -}}
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
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Justified checkov skips, rendered as annotations only when they apply. */}}
{{- define "platform.checkovSkips" -}}
{{- $n := 0 -}}
{{- if not .Values.image.digest }}{{ $n = add1 $n }}
checkov.io/skip{{ $n }}: CKV_K8S_43=Images are referenced by immutable ECR tags (git SHA); set image.digest to pin by digest
{{- end }}
{{- if not (and .Values.resources.limits .Values.resources.limits.cpu) }}{{ $n = add1 $n }}
checkov.io/skip{{ $n }}: CKV_K8S_11=No CPU limit on purpose - CFS throttling hurts async runtimes; CPU requests + HPA bound usage
{{- end }}
{{- end -}}

{{/* PromQL label matchers of this service's scraped series (ServiceMonitor: job = Service name). */}}
{{- define "platform.metricSelector" -}}
namespace="{{ .Release.Namespace }}", job="{{ include "platform.name" . }}"
{{- end -}}

{{/* Requests the SLOs count: the API, not the probes or the scrapes. */}}
{{- define "platform.sloSelector" -}}
{{ include "platform.metricSelector" . }}, route!~"/healthz|/readyz|/metrics"
{{- end -}}
