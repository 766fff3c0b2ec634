/** What `modelplane serve --help` says: shared by the command table, which imports `serve` lazily
 * (it loads the whole engine), and the command itself. */
export const serveUsage = {
  name: "serve",
  summary: "run the engine: management API, data plane, replicas and promotions on one port",
  usage:
    "modelplane serve [--port 7070] [--host 127.0.0.1] [--data-dir ./.modelplane] [--database-url postgres://…] [--readiness-timeout 60]\n" +
    "                 [--runtime process|kubernetes] [--kubeconfig PATH] [--namespace NS] [--image-pull-policy IfNotPresent|Always|Never]",
  help: [
    "  --readiness-timeout S  a starting replica must answer 200 on its readiness path within S seconds (default 60),",
    "                         else it is replaced; a deployment fails after 3 such starts in a row (about 3 × S)",
    "  --runtime kubernetes   replicas as pods (deployments with an image); default: process (deployments with a command)",
    "  --kubeconfig PATH      default: in-cluster in a pod, else $KUBECONFIG or ~/.kube/config",
    "  --namespace NS         where the replica sets' Deployments go; default: the pod's, else the kubeconfig context's",
    "  --image-pull-policy P  Never for images imported on the nodes without a registry; default IfNotPresent",
  ].join("\n"),
};
