// Hostile and broken input through the npm package: every case of tests/data/hostile/cases.json
// that applies to the package (the ones about AdmissionRequests, raw bytes and host failures run on
// the policy only), with `expand(vm, objects, options)`, checked against the outcome the table states
// (the same table runs natively in tests/hostile.rs and through policy.wasm in
// e2e-tests/tests/hostile.rs). Plus what only JavaScript can send: cycles, 100,000-deep objects,
// functions, BigInts, and a module that still answers afterwards.
// Run by `make test-npm` (after `make npm`): node --test npm/test/hostile.test.mjs
// HOSTILE_PRINT=1 prints every outcome with its wall time.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const NPM_OUT = process.env.NPM_OUT ?? join(ROOT, "target", "npm");
const api = createRequire(import.meta.url)(join(NPM_OUT, "kubevirt-instancetype"));
const TABLE = JSON.parse(readFileSync(join(ROOT, "tests", "data", "hostile", "cases.json"), "utf8"));
const PRINT = Boolean(process.env.HOSTILE_PRINT);

const clone = (value) => structuredClone(value);

function tokens(pointer) {
  return pointer
    .split("/")
    .slice(1)
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function set(doc, pointer, value) {
  const path = tokens(pointer);
  const last = path.pop();
  let current = doc;
  for (const token of path) {
    if (Array.isArray(current)) {
      current = current[Number(token)];
    } else {
      if (current[token] === undefined || current[token] === null) current[token] = {};
      current = current[token];
    }
  }
  if (Array.isArray(current)) {
    if (last === "-") current.push(value);
    else current[Number(last)] = value;
  } else {
    current[last] = value;
  }
}

function remove(doc, pointer) {
  const path = tokens(pointer);
  const last = path.pop();
  let current = doc;
  for (const token of path) current = current[Array.isArray(current) ? Number(token) : token];
  if (Array.isArray(current)) current.splice(Number(last), 1);
  else delete current[last];
}

function get(doc, pointer) {
  let current = doc;
  for (const token of tokens(pointer)) {
    if (current === null || typeof current !== "object") return undefined;
    current = current[Array.isArray(current) ? Number(token) : token];
  }
  return current;
}

function nested(depth) {
  let value = {};
  for (let i = 1; i < depth; i++) value = { x: value };
  return value;
}

const VM = "/request/object";
const range = (n) => Array.from({ length: n }, (_, i) => i);
const image = { image: "quay.io/containerdisks/fedora:41" };

function build(testCase) {
  const doc = clone(TABLE.base);
  for (const edit of testCase.edits) {
    if ("set" in edit) set(doc, edit.set, clone(edit.value));
    else if ("remove" in edit) remove(doc, edit.remove);
    else if ("disks" in edit) {
      set(doc, `${VM}/spec/template/spec/domain/devices/disks`, range(edit.disks).map((i) => ({ name: `disk-${i}`, disk: {} })));
      set(doc, `${VM}/spec/template/spec/volumes`, range(edit.disks).map((i) => ({ name: `disk-${i}`, containerDisk: image })));
    } else if ("volumesOnly" in edit) {
      set(doc, `${VM}/spec/template/spec/volumes`, range(edit.volumesOnly).map((i) => ({ name: `disk-${i}`, containerDisk: image })));
    } else if ("interfaces" in edit) {
      set(doc, `${VM}/spec/template/spec/domain/devices/interfaces`, range(edit.interfaces).map((i) => ({ name: `net-${i}` })));
      set(
        doc,
        `${VM}/spec/template/spec/networks`,
        range(edit.interfaces).map((i) => (i === 0 ? { name: "net-0", pod: {} } : { name: `net-${i}`, multus: { networkName: `nad-${i}` } })),
      );
    } else if ("annotation" in edit) set(doc, `${VM}/metadata/annotations`, { big: "a".repeat(edit.annotation) });
    else if ("nest" in edit) set(doc, edit.nest, nested(edit.depth));
    else throw new Error(`edit ${JSON.stringify(edit)} does not apply to the npm package`);
  }
  return doc;
}

function expectation(testCase) {
  return { ...testCase.expect, ...(testCase.expectNpm ?? {}) };
}

const cases = TABLE.cases.filter((c) => !c.faces || c.faces.includes("npm"));

describe("hostile input through the npm package (tests/data/hostile/cases.json)", () => {
  test("the table has cases for the package", () => assert.ok(cases.length > 50, `${cases.length} cases`));

  for (const testCase of cases) {
    test(testCase.name, () => {
      const doc = build(testCase);
      const expect = expectation(testCase);
      const vm = get(doc, VM);
      const started = process.hrtime.bigint();
      let result;
      let thrown;
      try {
        result = api.expand(vm, doc.objects, doc.settings);
      } catch (error) {
        thrown = error;
      }
      const micros = Number((process.hrtime.bigint() - started) / 1000n);
      if (PRINT) console.log(JSON.stringify({ name: testCase.name, micros, ok: result?.ok, message: result?.message ?? thrown?.message }));
      // The same objects prepared once answer the same (misuse throws the same, when constructed or
      // when called).
      let prepared;
      try {
        prepared = new api.PreparedObjects(doc.objects);
        const again = prepared.expand(vm, doc.settings);
        assert.equal(JSON.stringify(again), JSON.stringify(result), "PreparedObjects answers differently");
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        assert.equal(error.message, thrown?.message, "PreparedObjects throws differently");
      } finally {
        prepared?.free();
      }
      if (expect.throws !== undefined) {
        assert.ok(thrown instanceof TypeError, `expected a TypeError, got ${thrown ?? JSON.stringify(result)}`);
        assert.equal(thrown.message, expect.throws);
        return;
      }
      assert.equal(thrown, undefined, `threw ${thrown}`);
      assert.equal(result.ok, expect.allowed, JSON.stringify(result).slice(0, 2000));
      if (expect.allowed) {
        assert.equal(result.changed, expect.patched ?? false);
        for (const [pointer, value] of Object.entries(expect.object ?? {})) {
          assert.deepEqual(get(result.vm, pointer), value, pointer);
        }
        for (const pointer of expect.absent ?? []) assert.equal(get(result.vm, pointer), undefined, pointer);
      } else {
        assert.equal(result.message, expect.message);
        assert.equal(result.code, expect.code);
      }
      assert.deepEqual(result.warnings, expect.warnings ?? []);
    });
  }
});

describe("what only JavaScript can send", () => {
  const vm = () => clone(TABLE.base.request.object);
  const works = () => assert.equal(api.expand(vm(), TABLE.base.objects).ok, true, "the module still answers");

  test("100,000 levels of nesting: a TypeError, and the module keeps working", () => {
    for (const depth of [10_000, 100_000]) {
      const v = vm();
      v.spec.deep = nested(depth);
      assert.throws(() => api.expand(v, TABLE.base.objects), {
        name: "TypeError",
        message: "kubevirt-instancetype: vm is nested more than 125 levels deep (or contains a cycle)",
      });
      works();
    }
  });

  test("deep arrays, deep objects and deep options are refused the same way", () => {
    const deepArray = JSON.parse("[".repeat(50_000) + "]".repeat(50_000));
    assert.throws(() => api.expand(vm(), [deepArray]), { name: "TypeError", message: /objects is nested more than 125 levels/ });
    assert.throws(() => api.expand(vm(), TABLE.base.objects, { cluster: nested(200) }), {
      name: "TypeError",
      message: /options is nested more than 125 levels/,
    });
    assert.throws(() => api.validateObject(nested(300)), { name: "TypeError", message: /obj is nested more than 125 levels/ });
    works();
  });

  test("a cyclic VM is refused, not followed", () => {
    const v = vm();
    v.spec.self = v;
    assert.throws(() => api.expand(v, TABLE.base.objects), { name: "TypeError", message: /contains a cycle/ });
    const objects = clone(TABLE.base.objects);
    objects[0].spec.loop = objects;
    assert.throws(() => api.validate(vm(), objects), { name: "TypeError", message: /objects is nested more than 125 levels/ });
    works();
  });

  test("values JSON cannot hold: a BigInt is misuse; functions and symbols are left out, as JSON.stringify does", () => {
    const v = vm();
    v.spec.x = 10n;
    assert.throws(() => api.expand(v, TABLE.base.objects), { name: "TypeError", message: /vm is not a JSON-compatible value/ });
    for (const dropped of [() => 1, Symbol("s"), undefined]) {
      const w = vm();
      w.spec.x = dropped;
      const result = api.expand(w, TABLE.base.objects);
      assert.equal(result.ok, true);
      assert.equal("x" in result.vm.spec, false);
    }
    works();
  });

  test("numbers JavaScript holds but JSON does not: Infinity and NaN read as null, as JSON.stringify writes them", () => {
    const v = vm();
    v.spec.template.spec.domain.cpu = { sockets: Infinity };
    const result = api.expand(v, TABLE.base.objects);
    // cpu.sockets on a VM with an instancetype is a conflict, whatever its value: null is not set.
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.vm.spec.template.spec.domain.cpu.sockets, 1);
  });

  test("1,000 calls with hostile VMs leave the module healthy", () => {
    for (let i = 0; i < 1000; i++) {
      const v = vm();
      v.spec.template.spec.domain.cpu = { sockets: i % 2 ? "two" : -i };
      v.metadata.name = "\u0000".repeat(i % 7) + "✓";
      api.expand(v, TABLE.base.objects);
    }
    works();
  });
});
