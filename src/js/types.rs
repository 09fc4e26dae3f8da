//! The TypeScript declarations of the package, appended to every generated `.d.ts` (the exports
//! themselves skip wasm-bindgen's `any`-typed ones). Kept in step with [`crate::js::api`] and
//! [`crate::engine::review::ReviewOptions`] by the TypeScript consumer test (`tsc --noEmit`).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** `metadata` of a Kubernetes object (the fields the engine reads are typed; the rest is kept). */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** Any Kubernetes object. */
export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

/**
 * An object `expand` and `validate` can look up: instancetypes and preferences of any supported
 * version and scope (`instancetype.kubevirt.io` v1beta1/v1alpha2/v1alpha1, `flavor.kubevirt.io`
 * v1alpha1), ControllerRevisions, PersistentVolumeClaims, DataVolumes, DataSources and
 * VolumeSnapshots. Objects of other kinds are ignored with a warning.
 */
export type ClusterObject = KubernetesObject;

/** `spec.instancetype` of a VirtualMachine. */
export interface InstancetypeMatcher {
  name?: string;
  /** `VirtualMachineClusterInstancetype` (the default) or `VirtualMachineInstancetype`, singular or plural, any case. */
  kind?: string;
  revisionName?: string;
  inferFromVolume?: string;
  inferFromVolumeFailurePolicy?: "Ignore" | "Reject";
}

/** `spec.preference` of a VirtualMachine. */
export interface PreferenceMatcher {
  name?: string;
  /** `VirtualMachineClusterPreference` (the default) or `VirtualMachinePreference`, singular or plural, any case. */
  kind?: string;
  revisionName?: string;
  inferFromVolume?: string;
  inferFromVolumeFailurePolicy?: "Ignore" | "Reject";
}

/** `spec.template.spec.domain.cpu`. */
export interface CPU {
  sockets?: number;
  cores?: number;
  threads?: number;
  maxSockets?: number;
  model?: string;
  dedicatedCpuPlacement?: boolean;
  isolateEmulatorThread?: boolean;
  [key: string]: unknown;
}

/** `spec.template.spec.domain.memory`. Quantities are strings such as `"4Gi"`. */
export interface Memory {
  guest?: string;
  maxGuest?: string;
  hugepages?: { pageSize: string };
  [key: string]: unknown;
}

/** A disk of `spec.template.spec.domain.devices.disks`. */
export interface Disk {
  name: string;
  disk?: { bus?: string; [key: string]: unknown };
  cdrom?: { bus?: string; [key: string]: unknown };
  lun?: { bus?: string; [key: string]: unknown };
  bootOrder?: number;
  [key: string]: unknown;
}

/** An interface of `spec.template.spec.domain.devices.interfaces`. */
export interface Interface {
  name: string;
  model?: string;
  [key: string]: unknown;
}

/** `spec.template.spec.domain`. */
export interface DomainSpec {
  cpu?: CPU;
  memory?: Memory;
  resources?: {
    requests?: Record<string, string>;
    limits?: Record<string, string>;
    [key: string]: unknown;
  };
  machine?: { type?: string };
  devices?: {
    disks?: Disk[];
    interfaces?: Interface[];
    [key: string]: unknown;
  };
  features?: Record<string, unknown>;
  firmware?: Record<string, unknown>;
  clock?: Record<string, unknown>;
  [key: string]: unknown;
}

/** `spec.template.spec` of a VirtualMachine. */
export interface VirtualMachineInstanceSpec {
  domain?: DomainSpec;
  volumes?: Array<{ name: string; [key: string]: unknown }>;
  networks?: Array<{ name: string; [key: string]: unknown }>;
  architecture?: string;
  [key: string]: unknown;
}

/** A `kubevirt.io/v1` VirtualMachine (the parts the engine reads are typed; everything else is kept). */
export interface VirtualMachine {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: {
    instancetype?: InstancetypeMatcher;
    preference?: PreferenceMatcher;
    template?: { metadata?: ObjectMeta; spec?: VirtualMachineInstanceSpec };
    dataVolumeTemplates?: KubernetesObject[];
    [key: string]: unknown;
  };
  status?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A KubeVirt-style status cause. */
export interface Cause {
  /** e.g. `FieldValueInvalid`, `FieldValueNotFound`, `FieldValueRequired`, `FieldValueForbidden`. */
  reason: string;
  message: string;
  /** The offending field path(s), dotted (e.g. `spec.template.spec.domain.cpu.sockets`), comma separated when several. */
  field: string;
}

/** The allow-list entry of `allowedInstancetypes` / `allowedPreferences`. */
export interface NameRule {
  /** Kind the rule applies to (omitted or empty: any kind of the role). */
  kind?: string;
  /** Name pattern with `*` and `?` wildcards, e.g. `u1.*`. */
  name: string;
}

/** KubeVirt cluster configuration that changes expansion (defaults are KubeVirt's). */
export interface ClusterOptions {
  /** `network.defaultNetworkInterface` (default `bridge`). */
  defaultNetworkInterface?: "bridge" | "masquerade";
  /** `network.permitBridgeInterfaceOnPodNetwork` (default `true`). */
  permitBridgeInterfaceOnPodNetwork?: boolean;
  /** `architectureConfiguration.defaultArchitecture` (default `amd64`). */
  defaultArchitecture?: "amd64" | "arm64" | "s390x";
  /** `evictionStrategy` (default `None`). */
  evictionStrategy?: "None" | "LiveMigrate" | "LiveMigrateIfPossible" | "External";
}

/**
 * The Kubewarden policy's settings, key for key: the same JSON can configure both. Unknown keys
 * and invalid values throw a `TypeError`.
 */
export interface Options {
  /** Ignored: `expand` always expands, `validate` always validates. Accepted so policy settings can be passed as they are. */
  mode?: "expand" | "validate";
  /** Admit VMs whose instancetype or preference does not exist, with a warning (default `false`). */
  allowMissingObjects?: boolean;
  /** Let volume inference follow references into other namespaces (default `false`). */
  allowCrossNamespaceInference?: boolean;
  /** Apply KubeVirt's VMI defaults when expanding, as `virtctl expand` does (default `true`). */
  vmiDefaults?: boolean;
  cluster?: ClusterOptions;
  /** Every VM must reference an instancetype (default `false`). */
  requireInstancetype?: boolean;
  /** When non-empty, a VM's instancetype must match one entry. */
  allowedInstancetypes?: NameRule[];
  /** When non-empty, a VM's preference must match one entry. */
  allowedPreferences?: NameRule[];
  /** A VM without an instancetype may not size itself inline (default `false`). */
  forbidInlineResourcesWithoutInstancetype?: boolean;
}

/** Why the policy would reject the request (or the object). */
export interface Failure {
  ok: false;
  /** The rejection message: the causes' messages joined with `", "` (the first ten, then `, and N more validation errors`), as KubeVirt's. */
  message: string;
  /** HTTP status: 422 for invalid objects, 400 for requests the engine cannot read. */
  code: number;
  /** KubeVirt-style causes; may be empty when `message` says it all. */
  causes: Cause[];
  warnings: string[];
}

/** `expand` admitted the VM: `vm` is what the policy would store (`changed: false`: the VM as given). */
export interface ExpandSuccess {
  ok: true;
  vm: VirtualMachine;
  changed: boolean;
  warnings: string[];
}

export type ExpandResult = ExpandSuccess | Failure;

/** The VM (or object) passes. */
export interface ValidationSuccess {
  ok: true;
  warnings: string[];
}

export type ValidateResult = ValidationSuccess | Failure;

export type ObjectValidationResult = ValidationSuccess | Failure;

/**
 * The VM as the policy in expand mode would admit it: the instancetype and preference applied
 * inline, the matchers removed. Conflicts, failed preference requirements and missing objects are
 * returned as a `Failure`. Throws a `TypeError` only on misuse (`vm` not an object, `objects` not
 * an array of objects, invalid `options`). The objects of the last call (of `expand` or
 * `validate`) are kept: objects with the same JSON as the last call's are not read again.
 */
export function expand(vm: VirtualMachine, objects: readonly ClusterObject[], options?: Options): ExpandResult;

/** The checks the policy's validate mode makes; never changes the VM. Throws only on misuse, as `expand`. */
export function validate(vm: VirtualMachine, objects: readonly ClusterObject[], options?: Options): ValidateResult;

/** Validates an instancetype or preference object as KubeVirt's admission does, with its warnings. Throws a `TypeError` only when `obj` is not an object. */
export function validateObject(obj: KubernetesObject): ObjectValidationResult;

/** The package version. */
export function version(): string;

/**
 * `objects` read once, for a console that reviews VM after VM (a preview on every keystroke)
 * against the same objects: `expand` and `validate` answer exactly as the functions of the same
 * names given these objects, without converting and reading them on every call. The objects are
 * copied when constructed (changing them afterwards changes nothing); `free()` releases the copy.
 */
export class PreparedObjects {
  /** Throws a `TypeError` when `objects` is not an array of objects. */
  constructor(objects: readonly ClusterObject[]);
  /** `expand(vm, objects, options)` with the prepared objects. */
  expand(vm: VirtualMachine, options?: Options): ExpandResult;
  /** `validate(vm, objects, options)` with the prepared objects. */
  validate(vm: VirtualMachine, options?: Options): ValidateResult;
  /** Releases the prepared objects; calling a method afterwards throws. */
  free(): void;
}
"#;
