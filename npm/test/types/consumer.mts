// A TypeScript consumer of the shipped types, ESM under Node's resolution (`module: nodenext`).
// Compiled with `tsc --noEmit` by npm/test/package.test.mjs against the installed tarball.
import {
  PreparedObjects,
  expand,
  validate,
  validateObject,
  version,
  type Cause,
  type ClusterObject,
  type ExpandResult,
  type Failure,
  type ObjectValidationResult,
  type Options,
  type ValidateResult,
  type VirtualMachine,
} from "kubevirt-instancetype";

const vm: VirtualMachine = {
  apiVersion: "kubevirt.io/v1",
  kind: "VirtualMachine",
  metadata: { name: "demo", namespace: "default" },
  spec: {
    instancetype: { name: "u1.medium" },
    preference: { name: "fedora", kind: "VirtualMachineClusterPreference" },
    template: { spec: { domain: { devices: {} } } },
  },
};
const objects: ClusterObject[] = [
  { apiVersion: "instancetype.kubevirt.io/v1beta1", kind: "VirtualMachineClusterInstancetype", metadata: { name: "u1.medium" }, spec: {} },
];
const options: Options = {
  vmiDefaults: true,
  cluster: { defaultArchitecture: "arm64", defaultNetworkInterface: "masquerade", evictionStrategy: "LiveMigrate" },
  allowedInstancetypes: [{ name: "u1.*" }, { kind: "VirtualMachineInstancetype", name: "team-*" }],
};

const result: ExpandResult = expand(vm, objects, options);
if (result.ok) {
  // Narrowed to ExpandSuccess.
  const sockets: number | undefined = result.vm.spec?.template?.spec?.domain?.cpu?.sockets;
  const memory: string | undefined = result.vm.spec?.template?.spec?.domain?.memory?.guest;
  const buses: (string | undefined)[] = result.vm.spec?.template?.spec?.domain?.devices?.disks?.map((d) => d.disk?.bus) ?? [];
  const changed: boolean = result.changed;
  void [sockets, memory, buses, changed];
} else {
  // Narrowed to Failure.
  const failure: Failure = result;
  const fields: string[] = failure.causes.map((cause: Cause) => cause.field);
  const code: number = failure.code;
  void [fields, code];
  // @ts-expect-error a failure carries no VM
  void result.vm;
}
const warnings: string[] = result.warnings;

const validated: ValidateResult = validate(vm, objects);
if (validated.ok) {
  // @ts-expect-error validate never returns a VM
  void validated.vm;
}
const checked: ObjectValidationResult = validateObject(objects[0]!);
const text: string = version();
void [warnings, checked, text];

// Misuse is caught at compile time too.
// @ts-expect-error objects is required
expand(vm);
// @ts-expect-error unknown option
expand(vm, [], { bogus: true });
// @ts-expect-error not an architecture KubeVirt knows
expand(vm, [], { cluster: { defaultArchitecture: "x86" } });
// @ts-expect-error inferFromVolumeFailurePolicy is Ignore or Reject
const bad: VirtualMachine = { spec: { instancetype: { inferFromVolume: "root", inferFromVolumeFailurePolicy: "Maybe" } } };
void bad;

const prepared = new PreparedObjects(objects);
const preview: ExpandResult = prepared.expand(vm, options);
const preparedCheck: ValidateResult = prepared.validate(vm);
prepared.free();
void [preview, preparedCheck];
