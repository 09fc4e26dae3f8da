// The preview page: edit a VirtualMachine (JSON or the fields), pick an instancetype and a
// preference from the bundled common-instancetypes, and see what the policy would store, what
// changed, and why it would be rejected, next to the field concerned. Everything runs in the page
// through the `web` build of the npm package.
import init, { PreparedObjects, version } from "/pkg/web/kubevirt_instancetype.js";

const $ = (id) => document.getElementById(id);

const DOMAIN = "spec.template.spec.domain";
/** Form fields: id → path inside the VM, and how to read the input. */
const FIELDS = {
  "cpu-sockets": { path: `${DOMAIN}.cpu.sockets`, number: true },
  "cpu-cores": { path: `${DOMAIN}.cpu.cores`, number: true },
  "cpu-threads": { path: `${DOMAIN}.cpu.threads`, number: true },
  "memory-guest": { path: `${DOMAIN}.memory.guest`, number: false },
};
/** Where a cause's field is shown: the first prefix that matches names the error slot. */
const ERROR_SLOTS = [
  ["spec.instancetype", "instancetype-error"],
  ["spec.flavor", "instancetype-error"],
  ["spec.preference", "preference-error"],
  ...Object.entries(FIELDS).map(([id, { path }]) => [path, `${id}-error`]),
];

const SAMPLE_VM = {
  apiVersion: "kubevirt.io/v1",
  kind: "VirtualMachine",
  metadata: { name: "fedora-preview", namespace: "default" },
  spec: {
    instancetype: { name: "u1.small", kind: "VirtualMachineClusterInstancetype" },
    preference: { name: "centos.stream9", kind: "VirtualMachineClusterPreference" },
    runStrategy: "Halted",
    template: {
      spec: {
        domain: { devices: {} },
        volumes: [
          { name: "rootdisk", containerDisk: { image: "quay.io/containerdisks/fedora:41" } },
          { name: "cloudinitdisk", cloudInitNoCloud: { userData: "#cloud-config\npassword: fedora\nchpasswd: { expire: False }\n" } },
        ],
      },
    },
  },
};

// The bundled catalogue, read into the module once: every edit then only converts the VM.
let prepared = null;

// ---- small helpers over dotted paths ----

function getPath(object, path) {
  return path.split(".").reduce((value, key) => (value == null ? undefined : value[key]), object);
}

function setPath(object, path, value) {
  const keys = path.split(".");
  const last = keys.pop();
  let target = object;
  for (const key of keys) {
    if (target[key] == null || typeof target[key] !== "object") {
      if (value === undefined) return;
      target[key] = {};
    }
    target = target[key];
  }
  if (value === undefined) delete target[last];
  else target[last] = value;
}

/** Leaf-level differences between two JSON values: [{kind, path, before, after}]. */
function diff(before, after, path = "") {
  const isObject = (v) => v !== null && typeof v === "object";
  if (isObject(before) && isObject(after) && Array.isArray(before) === Array.isArray(after)) {
    const keys = Array.isArray(after)
      ? [...Array(Math.max(before.length, after.length)).keys()].map(String)
      : [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((key) => {
      const child = Array.isArray(after) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (!(key in before)) return [{ kind: "added", path: child, after: after[key] }];
      if (!(key in after)) return [{ kind: "removed", path: child, before: before[key] }];
      return diff(before[key], after[key], child);
    });
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ kind: "changed", path, before, after }];
}

const short = (value) => {
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
};

function list(element, items, empty) {
  element.replaceChildren(
    ...(items.length ? items : [Object.assign(document.createElement("li"), { className: "none", textContent: empty })]),
  );
}

function item(text, className = "") {
  return Object.assign(document.createElement("li"), { textContent: text, className });
}

// ---- the VM: the textarea is the source of truth, the fields edit it ----

function readVm() {
  const text = $("vm-json").value;
  try {
    const vm = JSON.parse(text);
    if (vm === null || typeof vm !== "object" || Array.isArray(vm)) throw new Error("the VM must be a JSON object");
    $("vm-json-error").textContent = "";
    $("vm-json").classList.remove("invalid");
    return vm;
  } catch (error) {
    $("vm-json-error").textContent = `Not a valid VM: ${error.message}`;
    $("vm-json").classList.add("invalid");
    return null;
  }
}

function writeVm(vm) {
  $("vm-json").value = JSON.stringify(vm, null, 2);
}

/** Shows the VM's values in the fields (the selects fall back to "(none)" / an extra option). */
function syncFields(vm) {
  for (const [role, select] of [["instancetype", $("instancetype")], ["preference", $("preference")]]) {
    const name = getPath(vm, `spec.${role}.name`) ?? "";
    if (name && ![...select.options].some((option) => option.value === name)) {
      select.append(new Option(`${name} (not in the bundle)`, name));
    }
    select.value = name;
  }
  for (const [id, { path }] of Object.entries(FIELDS)) {
    const value = getPath(vm, path);
    if (document.activeElement !== $(id)) $(id).value = value ?? "";
  }
}

function onSelect(role) {
  const vm = readVm();
  if (!vm) return;
  const name = $(role).value;
  if (name) {
    const kind = role === "instancetype" ? "VirtualMachineClusterInstancetype" : "VirtualMachineClusterPreference";
    setPath(vm, `spec.${role}`, { name, kind });
  } else {
    setPath(vm, `spec.${role}`, undefined);
  }
  writeVm(vm);
  update(vm);
}

function onField(id) {
  const vm = readVm();
  if (!vm) return;
  const { path, number } = FIELDS[id];
  const raw = $(id).value.trim();
  setPath(vm, path, raw === "" ? undefined : number ? Number(raw) : raw);
  writeVm(vm);
  update(vm);
}

// ---- the result ----

function update(vm = readVm()) {
  if (!vm) return;
  syncFields(vm);
  const result = prepared.expand(vm);
  render(vm, result);
  document.body.dataset.renders = String(Number(document.body.dataset.renders ?? 0) + 1);
}

function render(input, result) {
  for (const slot of document.querySelectorAll(".field-error:not(#vm-json-error)")) {
    slot.textContent = "";
    slot.parentElement.classList.remove("invalid");
  }
  const status = $("status");
  const others = [];
  if (result.ok) {
    status.className = "status ok";
    status.textContent = result.changed
      ? "Admitted: the policy stores the VM expanded as below."
      : "Admitted unchanged (no instancetype or preference to expand).";
  } else {
    status.className = "status bad";
    status.textContent = `Rejected (${result.code}): ${result.causes.length ? `${result.causes.length} problem(s), shown next to the field` : result.message}`;
    for (const cause of result.causes) {
      const fields = cause.field.split(/,\s*/);
      const slots = new Set(fields.map((field) => ERROR_SLOTS.find(([prefix]) => field === prefix || field.startsWith(`${prefix}.`))?.[1]));
      for (const slot of slots) {
        if (!slot) {
          others.push(cause);
          continue;
        }
        const element = $(slot);
        element.textContent = element.textContent ? `${element.textContent}; ${cause.message}` : cause.message;
        element.parentElement.classList.add("invalid");
      }
    }
  }
  $("other-causes").replaceChildren(
    ...others.map((cause) => {
      const li = document.createElement("li");
      li.append(Object.assign(document.createElement("code"), { textContent: cause.field || "(no field)" }), `: ${cause.message}`);
      return li;
    }),
  );
  list($("warnings"), result.warnings.map((warning) => item(warning)), "none");

  const vm = result.ok ? result.vm : null;
  const domain = vm ? getPath(vm, DOMAIN) ?? {} : null;
  const cpu = domain?.cpu ?? {};
  const [sockets, cores, threads] = [cpu.sockets ?? 1, cpu.cores ?? 1, cpu.threads ?? 1];
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  $("summary-cpu").textContent = vm
    ? `${sockets * cores * threads} vCPU: ${plural(sockets, "socket")} × ${plural(cores, "core")} × ${plural(threads, "thread")}` +
      (cpu.dedicatedCpuPlacement ? ", dedicated" : "")
    : "—";
  $("summary-memory").textContent = vm ? domain.memory?.guest ?? domain.resources?.requests?.memory ?? "not set" : "—";
  const bus = (disk) => disk.disk?.bus ?? disk.cdrom?.bus ?? disk.lun?.bus ?? "default";
  $("summary-disks").textContent = vm ? (domain.devices?.disks ?? []).map((disk) => `${disk.name}: ${bus(disk)}`).join(", ") || "none" : "—";
  $("summary-nics").textContent = vm
    ? (domain.devices?.interfaces ?? []).map((nic) => `${nic.name}: ${nic.model ?? "default model"}`).join(", ") || "none"
    : "—";
  $("summary-machine").textContent = vm
    ? [domain.machine?.type, getPath(vm, "spec.template.spec.architecture")].filter(Boolean).join(", ") || "cluster default"
    : "—";
  const firmware = domain?.firmware?.bootloader;
  $("summary-firmware").textContent = vm
    ? firmware?.efi
      ? `EFI${firmware.efi.secureBoot ? ", Secure Boot" : ""}`
      : firmware?.bios
        ? "BIOS"
        : "cluster default"
    : "—";

  const changes = vm ? diff(input, vm) : [];
  list(
    $("changes"),
    changes.map((change) =>
      change.kind === "added"
        ? item(`+ ${change.path} = ${short(change.after)}`, "added")
        : change.kind === "removed"
          ? item(`- ${change.path} (was ${short(change.before)})`, "removed")
          : item(`~ ${change.path}: ${short(change.before)} → ${short(change.after)}`, "changed"),
    ),
    vm ? "nothing" : "nothing: the VM would be rejected",
  );
  $("expanded").textContent = vm ? JSON.stringify(vm, null, 2) : "(rejected: no VM is stored)";
}

// ---- start ----

async function main() {
  await init();
  $("version").textContent = `kubevirt-instancetype ${version()}`;
  const [instancetypes, preferences] = await Promise.all(
    ["common-clusterinstancetypes-bundle.json", "common-clusterpreferences-bundle.json"].map(async (name) => {
      const response = await fetch(`/data/${name}`);
      if (!response.ok) throw new Error(`cannot load ${name}: HTTP ${response.status}`);
      return response.json();
    }),
  );
  prepared = new PreparedObjects([...instancetypes, ...preferences]);

  const series = new Map();
  for (const it of instancetypes) {
    const name = it.metadata.name;
    const group = series.get(name.split(".")[0]) ?? series.set(name.split(".")[0], []).get(name.split(".")[0]);
    const labels = it.metadata.labels ?? {};
    group.push(new Option(`${name} — ${labels["instancetype.kubevirt.io/cpu"] ?? "?"} vCPU, ${labels["instancetype.kubevirt.io/memory"] ?? "?"}`, name));
  }
  for (const [prefix, options] of series) {
    const optgroup = Object.assign(document.createElement("optgroup"), { label: `${prefix} series` });
    optgroup.append(...options);
    $("instancetype").append(optgroup);
  }
  for (const preference of [...preferences].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const display = preference.metadata.annotations?.["openshift.io/display-name"];
    $("preference").append(new Option(display ? `${preference.metadata.name} — ${display}` : preference.metadata.name, preference.metadata.name));
  }

  $("instancetype").addEventListener("change", () => onSelect("instancetype"));
  $("preference").addEventListener("change", () => onSelect("preference"));
  for (const id of Object.keys(FIELDS)) $(id).addEventListener("input", () => onField(id));
  $("vm-json").addEventListener("input", () => update());

  writeVm(SAMPLE_VM);
  update();
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  $("status").className = "status bad";
  $("status").textContent = `The preview could not start: ${error.message}`;
  throw error;
});
