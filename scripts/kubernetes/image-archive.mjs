#!/usr/bin/env node
// Writes a single-layer docker-archive image tar (what `ctr images import` and `docker load` read) with
// no registry and no container tool. Plain Node, no dependencies.
//
//   node image-archive.mjs --out FILE.tar --name REF:TAG --entrypoint '["/bin/node","server.js"]' \
//        [--workdir /app] [--env K=V ...] --add SRC:DEST [--add SRC:DEST ...]
//
// --add copies a file or a directory (recursively; symlinks are followed, so a library copied from
// `ldd` output keeps the path the loader asks for). Entries are owned by root, dated 1970 and sorted,
// so the same inputs give the same image id. Prints "REF sha256:<config digest>" on success.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

function parseArgs(argv) {
  const out = { add: [], env: [], workdir: "/", entrypoint: undefined, name: undefined, file: undefined };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return v;
    };
    switch (argv[i]) {
      case "--out": out.file = value(); break;
      case "--name": out.name = value(); break;
      case "--entrypoint": out.entrypoint = JSON.parse(value()); break;
      case "--workdir": out.workdir = value(); break;
      case "--env": out.env.push(value()); break;
      case "--add": out.add.push(value()); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!out.file || !out.name || !Array.isArray(out.entrypoint) || out.entrypoint.length === 0) {
    throw new Error("--out, --name and --entrypoint (a non-empty JSON array) are required");
  }
  return out;
}

/** One 512-byte ustar header; names longer than 100 bytes go into the 155-byte prefix field. */
function header(path, { mode, size, type }) {
  const h = Buffer.alloc(512);
  let name = path, prefix = "";
  if (Buffer.byteLength(name) > 100) {
    // split at a "/" so that the prefix fits 155 bytes and the rest 100
    const cut = [...path.matchAll(/\//g)].map((m) => m.index)
      .find((i) => Buffer.byteLength(path.slice(0, i)) <= 155 && Buffer.byteLength(path.slice(i + 1)) <= 100 && i + 1 < path.length);
    if (cut === undefined) throw new Error(`path too long for ustar: ${path}`);
    prefix = path.slice(0, cut); name = path.slice(cut + 1);
  }
  const put = (text, offset, length) => h.write(text, offset, length, "utf8");
  const octal = (n, length) => n.toString(8).padStart(length - 1, "0") + "\0";
  put(name, 0, 100);
  put(octal(mode, 8), 100, 8);
  put(octal(0, 8), 108, 8); // uid
  put(octal(0, 8), 116, 8); // gid
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12); // mtime
  put("        ", 148, 8); // checksum placeholder
  put(type, 156, 1);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  put(prefix, 345, 155);
  let sum = 0;
  for (const byte of h) sum += byte;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return h;
}

function tar(entries) {
  const parts = [];
  for (const e of entries) {
    parts.push(header(e.path, { mode: e.mode, size: e.data?.length ?? 0, type: e.data ? "0" : "5" }));
    if (e.data) {
      parts.push(e.data);
      const pad = (512 - (e.data.length % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function layerEntries(specs) {
  const entries = new Map(); // path -> entry; directories end with "/"
  const addDirs = (path) => {
    const parts = path.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join("/") + "/";
      if (!entries.has(dir)) entries.set(dir, { path: dir, mode: 0o755 });
    }
  };
  const addPath = (src, dest) => {
    const st = statSync(src);
    if (st.isDirectory()) {
      entries.set(dest + "/", { path: dest + "/", mode: st.mode & 0o7777 });
      addDirs(dest + "/");
      for (const child of readdirSync(src).sort()) addPath(join(src, child), `${dest}/${child}`);
    } else if (st.isFile()) {
      addDirs(dest);
      entries.set(dest, { path: dest, mode: st.mode & 0o7777, data: readFileSync(src) });
    } else {
      throw new Error(`${src}: not a file or directory`);
    }
  };
  for (const spec of specs) {
    const at = spec.lastIndexOf(":");
    if (at <= 0) throw new Error(`--add ${spec}: expected SRC:DEST`);
    const dest = spec.slice(at + 1).replace(/^\/+|\/+$/g, "");
    if (!dest) throw new Error(`--add ${spec}: empty destination`);
    addPath(spec.slice(0, at), dest);
  }
  if (!entries.has("tmp/")) entries.set("tmp/", { path: "tmp/", mode: 0o1777 });
  return [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");

try {
  const args = parseArgs(process.argv.slice(2));
  const layer = tar(layerEntries(args.add));
  const config = Buffer.from(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: {
      Entrypoint: args.entrypoint,
      Env: ["PATH=/usr/local/bin:/usr/bin:/bin", ...args.env],
      WorkingDir: args.workdir,
    },
    rootfs: { type: "layers", diff_ids: [`sha256:${sha256(layer)}`] },
    history: [{ created_by: "scripts/kubernetes/image-archive.mjs" }],
  }));
  const configDigest = sha256(config);
  const manifest = Buffer.from(JSON.stringify([{ Config: `${configDigest}.json`, RepoTags: [args.name], Layers: ["layer.tar"] }]));
  writeFileSync(args.file, tar([
    { path: "layer.tar", mode: 0o644, data: layer },
    { path: `${configDigest}.json`, mode: 0o644, data: config },
    { path: "manifest.json", mode: 0o644, data: manifest },
  ]));
  console.log(`${args.name} sha256:${configDigest}`);
} catch (error) {
  console.error(`image-archive: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
