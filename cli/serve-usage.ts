/** What `modelplane serve --help` says: shared by the command table, which imports `serve` lazily
 * (it loads the whole engine), and the command itself. */
export const serveUsage = {
  name: "serve",
  summary: "run the engine: management API, data plane, replicas and promotions on one port",
  usage:
    "modelplane serve [--port 7070] [--host 127.0.0.1] [--data-dir ./.modelplane] [--database-url postgres://…] [--readiness-timeout 60]\n" +
    "                 [--runtime process|kubernetes] [--kubeconfig PATH] [--namespace NS] [--image-pull-policy IfNotPresent|Always|Never]\n" +
    "                 [--api-key-file PATH] [--secret-key-file PATH] [--database-url-file PATH] [--replica-user NAME] [--pass-env NAME]… [--rotate-secret-key]\n" +
    "                 [--prometheus-url http://127.0.0.1:9090]",
  help: [
    "  --readiness-timeout S  a starting replica must answer 200 on its readiness path within S seconds (default 60),",
    "                         else it is replaced; a deployment fails after 3 such starts in a row (about 3 × S)",
    "  --runtime kubernetes   replicas as pods (deployments with an image); default: process (deployments with a command)",
    "  --kubeconfig PATH      default: in-cluster in a pod, else $KUBECONFIG or ~/.kube/config",
    "  --namespace NS         where the replica sets' Deployments go; default: the pod's, else the kubeconfig context's",
    "  --image-pull-policy P  Never for images imported on the nodes without a registry; default IfNotPresent",
    "  --api-key-file PATH    the admin key from a file instead of MODELPLANE_API_KEY (likewise --secret-key-file for",
    "                         MODELPLANE_SECRET_KEY, --database-url-file for MODELPLANE_DATABASE_URL): the variables are",
    "                         removed from the engine's environment once read, but a file keeps them out of it entirely",
    "  --replica-user NAME    run replicas as this user; default when serve runs as root: modelplane-replica if it",
    "                         exists, else nobody (--replica-user root keeps them root). Their command and cwd must be",
    "                         reachable by that user",
    "  --rotate-secret-key    put a new random key first in <data-dir>/secret-key and re-encrypt every secret under it",
    "                         at this start (the old key stays in the file after it; remove it afterwards if you like)",
    "  --prometheus-url URL   the Prometheus server of promotion analysis metrics of type prometheus that give no url\n" +
    "  --pass-env NAME        also give replicas this variable of the engine's environment (repeatable); by default",
    "                         they get only PATH, HOME, LANG, LC_ALL, TZ plus their deployment's and environment's variables and secrets",
  ].join("\n"),
};
