// The packed npm package, as a user gets it: installs target/npm/kubevirt-instancetype-<version>.tgz
// into a temporary directory, then uses it through `require`, `import`, the `web` build (explicit
// init) and the bundler build, runs every public golden case through it and compares with the
// native engine, and compiles a TypeScript consumer against the shipped types.
// Run by `make test-npm` (after `make npm`): node --test npm/test/package.test.mjs

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NPM_OUT = process.env.NPM_OUT ?? join(ROOT, "target", "npm");
const VERSION = /^version = "(.*)"$/m.exec(readFileSync(join(ROOT, "Cargo.toml"), "utf8"))[1];
const TARBALL = join(NPM_OUT, `kubevirt-instancetype-${VERSION}.tgz`);
const GOLDEN_CASES = join(ROOT, "tests", "data", "golden", "cases.jsonl");
const TSC = join(ROOT, "npm", "node_modules", ".bin", "tsc");

const bundle = (name) => JSON.parse(readFileSync(join(ROOT, "data", "common-instancetypes", name), "utf8"));
const INSTANCETYPES = bundle("common-clusterinstancetypes-bundle.json");
const PREFERENCES = bundle("common-clusterpreferences-bundle.json");

const SAMPLE_VM = {
  apiVersion: "kubevirt.io/v1",
  kind: "VirtualMachine",
  metadata: { name: "sample", namespace: "default" },
  spec: {
    instancetype: { name: "u1.medium" },
    preference: { name: "fedora" },
    runStrategy: "Halted",
    template: { spec: { domain: { devices: {} }, volumes: [{ name: "rootdisk", containerDisk: { image: "quay.io/containerdisks/fedora:41" } }] } },
  },
};

let dir;
before(() => {
  assert.ok(existsSync(TARBALL), `${TARBALL} is missing: run \`make npm\` first`);
  dir = mkdtempSync(join(tmpdir(), "kubevirt-instancetype-npm-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock", TARBALL], {
    cwd: dir,
    stdio: ["ignore", "ignore", "inherit"],
  });
  // Entry points inside the consumer, so the bare specifier resolves through `exports`.
  writeFileSync(join(dir, "esm.mjs"), 'export * from "kubevirt-instancetype";\n');
  writeFileSync(
    join(dir, "web.mjs"),
    'export * from "kubevirt-instancetype/web";\nexport { default } from "kubevirt-instancetype/web";\n',
  );
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const requireFromConsumer = () => createRequire(join(dir, "index.cjs"));
const loadRequire = () => requireFromConsumer()("kubevirt-instancetype");
const loadImport = () => import(pathToFileURL(join(dir, "esm.mjs")).href);
async function loadWeb() {
  const web = await import(pathToFileURL(join(dir, "web.mjs")).href);
  const wasm = requireFromConsumer().resolve("kubevirt-instancetype/web/kubevirt_instancetype_bg.wasm");
  await web.default({ module_or_path: readFileSync(wasm) });
  return web;
}

function checkSample(api) {
  const result = api.expand(SAMPLE_VM, [...INSTANCETYPES, ...PREFERENCES]);
  assert.equal(result.ok, true, JSON.stringify(result));
  const domain = result.vm.spec.template.spec.domain;
  assert.deepEqual(domain.cpu, { cores: 1, sockets: 1, threads: 1 });
  assert.equal(domain.memory.guest, "4Gi");
  assert.equal(domain.devices.disks[0].disk.bus, "virtio");
  assert.equal(domain.devices.interfaces[0].model, "virtio");
  assert.equal(Object.getPrototypeOf(result.vm), Object.prototype, "plain objects, not Map");
}

describe("the installed package", () => {
  test("package.json: exports list `types` first and every file exists", () => {
    const pkgDir = join(dir, "node_modules", "kubevirt-instancetype");
    const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
    assert.equal(pkg.version, VERSION);
    assert.equal(pkg.license, "Apache-2.0");
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      const targets = typeof target === "string" ? [target] : Object.values(target);
      if (typeof target === "object") assert.equal(Object.keys(target)[0], "types", `exports["${subpath}"]`);
      for (const file of targets) assert.ok(existsSync(join(pkgDir, file)), `${subpath}: ${file}`);
    }
    assert.deepEqual(Object.keys(pkg.exports["."]), ["types", "node", "browser", "import", "require"]);
    for (const file of ["README.md", "LICENSE"]) assert.ok(existsSync(join(pkgDir, file)), file);
  });

  test("require() gives the Node build", () => {
    const api = loadRequire();
    assert.equal(api.version(), VERSION);
    assert.deepEqual(Object.keys(api).sort(), ["PreparedObjects", "expand", "validate", "validateObject", "version"]);
    checkSample(api);
  });

  test("import gives the same API", async () => {
    const api = await loadImport();
    assert.equal(api.version(), VERSION);
    for (const name of ["PreparedObjects", "expand", "validate", "validateObject", "version"]) assert.equal(typeof api[name], "function", name);
    checkSample(api);
  });

  test("the web build works after init()", async () => {
    const api = await loadWeb();
    assert.equal(api.version(), VERSION);
    checkSample(api);
  });

  test("the bundler build loads as an ES module importing the .wasm", () => {
    const script =
      'import { expand, version } from "kubevirt-instancetype/bundler";\n' +
      'const r = expand({ spec: { template: { spec: {} } } }, []);\n' +
      "console.log(JSON.stringify({ version: version(), ok: r.ok, changed: r.changed }));\n";
    writeFileSync(join(dir, "bundler.mjs"), script);
    const run = spawnSync(process.execPath, ["--experimental-wasm-modules", "--no-warnings", "bundler.mjs"], {
      cwd: dir,
      encoding: "utf8",
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { version: VERSION, ok: true, changed: false });
  });

  test("domain errors are returned; misuse throws a TypeError", () => {
    const api = loadRequire();
    const conflicting = structuredClone(SAMPLE_VM);
    conflicting.spec.template.spec.domain.cpu = { sockets: 2 };
    const result = api.expand(conflicting, [...INSTANCETYPES, ...PREFERENCES]);
    assert.deepEqual(result, {
      ok: false,
      message: "VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type",
      code: 422,
      causes: [
        {
          reason: "FieldValueInvalid",
          message: "VM field(s) spec.template.spec.domain.cpu.sockets conflicts with selected instance type",
          field: "spec.template.spec.domain.cpu.sockets",
        },
      ],
      warnings: [],
    });
    const validated = api.validate(conflicting, [...INSTANCETYPES, ...PREFERENCES]);
    assert.deepEqual(validated.causes, result.causes);
    assert.deepEqual(api.validate(SAMPLE_VM, [...INSTANCETYPES, ...PREFERENCES]), { ok: true, warnings: [] });
    assert.deepEqual(api.validateObject(INSTANCETYPES[0]), { ok: true, warnings: [] });

    assert.throws(() => api.expand(null, []), { name: "TypeError", message: /vm must be a VirtualMachine object, not null/ });
    assert.throws(() => api.expand(SAMPLE_VM), { name: "TypeError", message: /objects must be an array/ });
    assert.throws(() => api.expand(SAMPLE_VM, [null]), { name: "TypeError", message: /objects\[0\] must be a Kubernetes object/ });
    assert.throws(() => api.validate(SAMPLE_VM, [], { bogus: true }), { name: "TypeError", message: /invalid options: bogus: unknown field `bogus`/ });
    assert.throws(() => api.validate(SAMPLE_VM, [], { vmiDefaults: "yes" }), { name: "TypeError", message: /invalid options: vmiDefaults: invalid type/ });
    assert.throws(() => api.validateObject("u1.medium"), { name: "TypeError", message: /obj must be an instancetype or preference object/ });
    assert.throws(() => api.validateObject(() => 1), { name: "TypeError", message: /obj is not a JSON-compatible value/ });
  });

  test("expand/validate keep the last objects: the same JSON is not read again, other objects are", () => {
    const api = loadRequire();
    const sockets = (result) => result.vm.spec.template.spec.domain.cpu.sockets;
    const instancetype = structuredClone(INSTANCETYPES.find((o) => o.metadata.name === "u1.medium"));
    const preference = PREFERENCES.find((o) => o.metadata.name === "fedora");
    const objects = [instancetype, preference];
    const first = api.expand(SAMPLE_VM, objects);
    assert.equal(sockets(first), 1);
    assert.deepEqual(api.expand(SAMPLE_VM, objects), first);
    assert.deepEqual(api.expand(SAMPLE_VM, structuredClone(objects)), first);
    // The same array changed in place is other JSON: read again.
    instancetype.spec.cpu.guest = 4;
    assert.equal(sockets(api.expand(SAMPLE_VM, objects)), 4);
    assert.deepEqual(api.validate(SAMPLE_VM, objects), { ok: true, warnings: [] });
    // A namespaced object without a namespace lives in each VM's namespace, call after call.
    const small = {
      apiVersion: "instancetype.kubevirt.io/v1beta1",
      kind: "VirtualMachineInstancetype",
      metadata: { name: "small" },
      spec: { cpu: { guest: 2 }, memory: { guest: "1Gi" } },
    };
    const inNamespace = (namespace) => {
      const vm = structuredClone(SAMPLE_VM);
      vm.metadata.namespace = namespace;
      vm.spec.instancetype = { name: "small", kind: "VirtualMachineInstancetype" };
      delete vm.spec.preference;
      return vm;
    };
    for (const namespace of ["a", "b", "a"]) {
      const result = api.expand(inNamespace(namespace), [small]);
      assert.equal(sockets(result), 2, namespace);
      assert.equal(result.vm.metadata.namespace, namespace);
    }
    // Options read after the objects may run JS that calls in with other objects: both answer right.
    let inner;
    const larger = structuredClone(SAMPLE_VM);
    larger.spec.instancetype.name = "u1.2xlarge";
    const options = {
      toJSON() {
        inner = api.expand(larger, [INSTANCETYPES.find((o) => o.metadata.name === "u1.2xlarge"), preference]);
        return {};
      },
    };
    assert.equal(sockets(api.expand(SAMPLE_VM, objects, options)), 4);
    assert.equal(sockets(inner), 8);
    assert.equal(sockets(api.expand(SAMPLE_VM, objects)), 4);
    // Misuse keeps its argument order: deep objects are refused before bad options, kept or not.
    const deep = [JSON.parse("[".repeat(200) + "]".repeat(200))];
    for (let round = 0; round < 2; round++) {
      assert.throws(() => api.expand(SAMPLE_VM, deep, { bogus: true }), { name: "TypeError", message: /objects is nested more than/ });
    }
  });

  test("PreparedObjects: checked when constructed, answers as expand/validate, free() releases it", () => {
    const api = loadRequire();
    const objects = [...INSTANCETYPES, ...PREFERENCES];
    const prepared = new api.PreparedObjects(objects);
    assert.deepEqual(prepared.expand(SAMPLE_VM), api.expand(SAMPLE_VM, objects));
    assert.deepEqual(prepared.validate(SAMPLE_VM, { vmiDefaults: false }), api.validate(SAMPLE_VM, objects, { vmiDefaults: false }));
    objects.length = 0; // copied when constructed
    checkSample({ expand: (vm) => prepared.expand(vm) });
    assert.throws(() => new api.PreparedObjects({}), { name: "TypeError", message: /objects must be an array/ });
    assert.throws(() => prepared.expand(null), { name: "TypeError", message: /vm must be a VirtualMachine object, not null/ });
    prepared.free();
    assert.throws(() => prepared.expand(SAMPLE_VM), /null pointer|closure invoked|destroyed|moved/i);
  });
});

// ---- Same engine, same answer: the golden cases through the package and through the native CLI ----

/** The native engine's results (the conformance runner of the CLI), by id. */
function nativeResults() {
  const out = join(dir, "native-results.jsonl");
  const cargo = process.env.CARGO ?? "cargo";
  const run = spawnSync(
    cargo,
    ["run", "--quiet", "--release", "--bin", "kubevirt-instancetype", "--", "conformance", "--cases", GOLDEN_CASES, "--out", out],
    { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  assert.equal(run.status, 0, `native conformance run failed:\n${run.stderr}`);
  const lines = readFileSync(out, "utf8").split("\n").filter((line) => line.trim() !== "");
  return new Map(lines.map((line) => JSON.parse(line)).map((result) => [result.id, result]));
}

/**
 * What `expand` must return for a case, from the native result. The package runs the policy's
 * decision (the VM webhooks' checks, then `virtctl expand`), so:
 * - KubeVirt's admission causes (conflicts, spread, requirements) → a Failure with exactly those
 *   causes, the message their messages joined;
 * - an expansion error → a Failure with that message, or, for an object that is not found, the
 *   policy's FieldValueNotFound cause `Failure to find <instancetype|preference>: <error>`;
 * - an expanded VM → that VM, exactly (same JSON text, same key order), except for the mutating
 *   webhook's own steps, which `virtctl expand` skips: POLICY_ONLY below.
 */
function check(id, result, native, testCase) {
  const causes = [...(native.admission.applyCauses ?? []), ...(native.admission.requirementsCause ? [native.admission.requirementsCause] : [])];
  if (causes.length > 0) {
    assert.equal(result.ok, false, `${id}: expected a rejection`);
    assert.deepEqual(result.causes, causes, id);
    assert.equal(result.message, causes.map((cause) => cause.message).join(", "), id);
    return "causes";
  }
  if (native.error !== null) {
    assert.equal(result.ok, false, `${id}: expected a rejection`);
    if (result.causes.length === 0) {
      assert.equal(result.message, native.error, id);
      return "error";
    }
    const role = /^Failure to find (instancetype|preference): /.exec(result.causes[0]?.message ?? "")?.[1];
    assert.ok(role, `${id}: ${JSON.stringify(result)}`);
    assert.deepEqual(
      result.causes,
      [{ reason: "FieldValueNotFound", message: `Failure to find ${role}: ${native.error}`, field: `spec.${role}` }],
      id,
    );
    return "not found";
  }
  const policyOnly = POLICY_ONLY[id];
  if (policyOnly) return policyOnly(result, native, testCase);
  assert.equal(result.ok, true, `${id}: ${JSON.stringify(result)}`);
  assert.equal(JSON.stringify(result.vm), JSON.stringify(native.expanded), id);
  return "expanded";
}

/** Cases where the policy decides more than `virtctl expand` does, with what it must do. */
const POLICY_ONLY = {
  // The mutating webhook refuses a matcher with both a name/kind and inferFromVolume.
  "edge/matcher/inferFromVolume-ignored-when-name-present": (result) => {
    assert.equal(result.ok, false);
    assert.deepEqual(result.causes, [
      { reason: "FieldValueNotSupported", message: "Name already set, should be cleared before setting inferFromVolume", field: "spec.instancetype.name" },
      { reason: "FieldValueNotSupported", message: "Kind already set, should be cleared before setting inferFromVolume", field: "spec.instancetype.kind" },
    ]);
    return "policy only";
  },
  // The mutating webhook persists preferredStorageClassName into DataVolume templates.
  "edge/pref.volumes.preferredStorageClassName/not-applied": (result, native, testCase) => {
    assert.equal(result.ok, true);
    const expected = structuredClone(native.expanded);
    const storageClass = testCase.preference.spec.volumes.preferredStorageClassName;
    for (const template of expected.spec.dataVolumeTemplates) {
      for (const key of ["pvc", "storage"]) {
        const target = template.spec[key];
        if (target && target.storageClassName === undefined) target.storageClassName = storageClass;
      }
    }
    assert.equal(JSON.stringify(result.vm), JSON.stringify(expected));
    return "policy only";
  },
};

describe("every public golden case gives the native engine's answer", () => {
  const cases = readFileSync(GOLDEN_CASES, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
  let native;
  before(() => {
    native = nativeResults();
  });

  for (const [build, load] of [
    ["node build (require)", loadRequire],
    ["web build (init)", loadWeb],
  ]) {
    test(`${build}: ${cases.length} cases`, async () => {
      const api = await load();
      assert.equal(native.size, cases.length);
      const kinds = {};
      const failures = [];
      for (const testCase of cases) {
        const objects = [testCase.instancetype, testCase.preference].filter((object) => object != null);
        try {
          const result = api.expand(testCase.vm, objects);
          const kind = check(testCase.id, result, native.get(testCase.id), testCase);
          kinds[kind] = (kinds[kind] ?? 0) + 1;
          // The same objects prepared once give the same answers, call after call.
          const prepared = new api.PreparedObjects(objects);
          for (let call = 0; call < 2; call++) {
            assert.equal(JSON.stringify(prepared.expand(testCase.vm)), JSON.stringify(result), `${testCase.id}: prepared`);
          }
          assert.equal(
            JSON.stringify(prepared.validate(testCase.vm)),
            JSON.stringify(api.validate(testCase.vm, objects)),
            `${testCase.id}: prepared validate`,
          );
          prepared.free();
        } catch (error) {
          failures.push(`${testCase.id}: ${error.message}`);
        }
      }
      assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases differ`);
      // Every kind of outcome is exercised.
      assert.ok(kinds.expanded > 300 && kinds.causes > 100 && kinds["not found"] > 0 && kinds["policy only"] === 2, JSON.stringify(kinds));
    });
  }
});

// ---- TypeScript ----

test("a TypeScript consumer compiles against the shipped types (tsc --noEmit)", () => {
  assert.ok(existsSync(TSC), `${TSC} is missing: run scripts/install-tools.sh`);
  cpSync(join(ROOT, "npm", "test", "types"), dir, { recursive: true });
  for (const config of ["tsconfig.node.json", "tsconfig.bundler.json"]) {
    const run = spawnSync(TSC, ["--noEmit", "-p", config], { cwd: dir, encoding: "utf8" });
    assert.equal(run.status, 0, `tsc -p ${config}:\n${run.stdout}${run.stderr}`);
  }
});
