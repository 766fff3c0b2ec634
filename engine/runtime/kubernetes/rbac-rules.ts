/**
 * Everything the Kubernetes runtime does in its namespace, as the rules of a namespaced Role. The
 * tests run the runtime with a service account bound to exactly these rules (and fail if one is
 * missing); examples/kubernetes and the README's Role show the same list.
 */
export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export const RUNTIME_RBAC_RULES: readonly RbacRule[] = [
  // one Deployment per replica set: server-side apply (patch; create when new), informer (list, watch), removal
  { apiGroups: ["apps"], resources: ["deployments"], verbs: ["list", "watch", "create", "patch", "delete"] },
  // the headless Service whose EndpointSlices give the ready pod addresses; deletecollection for leftovers
  { apiGroups: [""], resources: ["services"], verbs: ["create", "patch", "delete", "deletecollection"] },
  // secret variables: written and deleted, never read back (no get, list or watch on Secrets)
  { apiGroups: [""], resources: ["secrets"], verbs: ["create", "patch", "delete", "deletecollection"] },
  // replica states, restarts, termination messages (a crashed container's last output)
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
  // the kubelet's probe-failure events, read when a pod restarts
  { apiGroups: [""], resources: ["events"], verbs: ["list"] },
  // ready and terminating pod addresses, routed to by the engine itself
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
];
