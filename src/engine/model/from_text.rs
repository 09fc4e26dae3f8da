//! The typed specs read straight from the JSON text of a `spec` member, natively: no JSON tree and no
//! `serde` machinery, for the one path every object read from text takes
//! ([`super::legacy::v1beta1_instancetype_spec_from_text`] and its preference twin).
//!
//! A reader gives exactly what `serde_json::from_str` gives through the types' `Deserialize`
//! (the derive's field names, required fields, duplicate-field refusal, unknown fields ignored,
//! `Quantity`'s text form), or [`Unsure`] for anything it does not read the same way (an escaped
//! member name, a number where `Quantity` wants text, a float for an integer, any error); the caller
//! then decodes with `serde`, which decides. Values copied verbatim (`numa`, `preferredEfi`, ...) are
//! built into `serde_json` values as they are read ([`Scanner::read_json`]). The tables here are checked against the derive's own
//! field lists, and every decoding against `serde`'s, in the tests below and in `tests/insert_json.rs`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{
    ClockPreferences, CpuPreferences, CpuRequirement, DevicePreferences, FeaturePreferences, FirmwarePreferences,
    InstancetypeCpu, InstancetypeMemory, InstancetypeSpec, IoThreads, MachinePreferences, MemoryRequirement,
    PreferenceRequirements, PreferenceSpec, SpreadOptions, VolumePreferences,
};
use crate::engine::json_text::{Scan, Scanner, Unsure, once};
use crate::engine::quantity::Quantity;

/// A spec of type `T` read from `text`, one JSON value without `null` that [`crate::engine::json_text`]
/// has vouched for; `None` when the reader is unsure (see the module documentation). The readers
/// check what they read as the scan does, so [`crate::engine::json_text::read_envelope_reading_spec`]
/// also uses them on a spec it has not scanned.
pub(crate) fn spec_from_text<T: FromText>(text: &str) -> Option<T> {
    let mut scan = Scanner::reader(text);
    let spec = T::read(&mut scan).ok()?;
    scan.at_end().then_some(spec)
}

/// A type read from the text of one JSON value, as its `Deserialize` reads it.
pub(crate) trait FromText: Sized {
    /// Reads one value, leaving the scanner after it.
    fn read(scan: &mut Scanner<'_>) -> Scan<Self>;
}

impl FromText for bool {
    fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
        scan.read_bool()
    }
}

impl FromText for u32 {
    fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
        u32::try_from(scan.read_unsigned()?).map_err(|_| Unsure)
    }
}

impl FromText for i64 {
    fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
        scan.read_signed()
    }
}

impl FromText for String {
    fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
        scan.read_string().map(String::from)
    }
}

impl FromText for Quantity {
    /// Text only (trimmed, as `Quantity`'s `Deserialize` trims it); a number is [`Unsure`].
    fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
        Quantity::parse(scan.read_string()?.trim()).map_err(|_| Unsure)
    }
}

impl FromText for Value {
    fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
        scan.read_json()
    }
}

impl FromText for Map<String, Value> {
    fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
        scan.read_json_object()
    }
}

impl FromText for Vec<Value> {
    fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
        scan.read_json_array()
    }
}

impl FromText for BTreeMap<String, String> {
    /// A later member of the same name replaces an earlier one, as in `serde`'s map.
    fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
        let mut map = BTreeMap::new();
        scan.object(|scan, key| {
            map.insert(key.to_owned(), String::read(scan)?);
            Ok(())
        })?;
        Ok(map)
    }
}

impl<T: FromText> FromText for Option<T> {
    /// A present member (`null` never reaches a reader: the caller refuses texts holding one).
    fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
        T::read(scan).map(Some)
    }
}

impl<T: FromText> FromText for Box<T> {
    fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
        T::read(scan).map(Box::new)
    }
}

/// Implements [`FromText`] for a struct from its members' JSON names: `required` fields must be
/// present (the derive's missing-field error), `default` ones take `Default::default()` when absent.
/// A member named twice is [`Unsure`] (the derive's duplicate-field error); others are skipped.
/// `FIELDS` lists the names, for the tests to compare with the derive's.
macro_rules! struct_from_text {
    ($type:ident { $($name:literal => $field:ident: $presence:ident),* $(,)? }) => {
        impl FromText for $type {
            fn read(scan: &mut Scanner<'_>) -> Scan<Self> {
                $(let mut $field = None;)*
                scan.object(|scan, key| match key {
                    $($name => once(&mut $field, FromText::read(scan)?),)*
                    _ => scan.value(),
                })?;
                Ok(Self {
                    $($field: struct_from_text!(@finish $presence $field),)*
                })
            }
        }

        #[cfg(test)]
        impl $type {
            /// The JSON names [`FromText`] reads.
            const FIELDS: &'static [&'static str] = &[$($name),*];
        }
    };
    (@finish required $field:ident) => { $field.ok_or(Unsure)? };
    (@finish default $field:ident) => { $field.unwrap_or_default() };
}

struct_from_text!(InstancetypeSpec {
    "nodeSelector" => node_selector: default,
    "schedulerName" => scheduler_name: default,
    "cpu" => cpu: required,
    "memory" => memory: required,
    "gpus" => gpus: default,
    "hostDevices" => host_devices: default,
    "ioThreadsPolicy" => io_threads_policy: default,
    "ioThreads" => io_threads: default,
    "launchSecurity" => launch_security: default,
    "annotations" => annotations: default,
});

struct_from_text!(InstancetypeCpu {
    "guest" => guest: required,
    "model" => model: default,
    "dedicatedCPUPlacement" => dedicated_cpu_placement: default,
    "numa" => numa: default,
    "isolateEmulatorThread" => isolate_emulator_thread: default,
    "realtime" => realtime: default,
    "maxSockets" => max_sockets: default,
});

struct_from_text!(InstancetypeMemory {
    "guest" => guest: required,
    "hugepages" => hugepages: default,
    "overcommitPercent" => overcommit_percent: default,
    "maxGuest" => max_guest: default,
});

struct_from_text!(IoThreads {
    "supplementalPoolThreadCount" => supplemental_pool_thread_count: default,
});

struct_from_text!(PreferenceSpec {
    "clock" => clock: default,
    "cpu" => cpu: default,
    "devices" => devices: default,
    "features" => features: default,
    "firmware" => firmware: default,
    "machine" => machine: default,
    "volumes" => volumes: default,
    "preferredSubdomain" => preferred_subdomain: default,
    "preferredTerminationGracePeriodSeconds" => preferred_termination_grace_period_seconds: default,
    "requirements" => requirements: default,
    "annotations" => annotations: default,
    "preferSpreadSocketToCoreRatio" => prefer_spread_socket_to_core_ratio: default,
    "preferredArchitecture" => preferred_architecture: default,
    "preferredLaunchSecurity" => preferred_launch_security: default,
});

struct_from_text!(ClockPreferences {
    "preferredClockOffset" => preferred_clock_offset: default,
    "preferredTimer" => preferred_timer: default,
});

struct_from_text!(CpuPreferences {
    "preferredCPUTopology" => preferred_cpu_topology: default,
    "spreadOptions" => spread_options: default,
    "preferredCPUFeatures" => preferred_cpu_features: default,
});

struct_from_text!(SpreadOptions {
    "across" => across: default,
    "ratio" => ratio: default,
});

struct_from_text!(DevicePreferences {
    "preferredAutoattachGraphicsDevice" => preferred_autoattach_graphics_device: default,
    "preferredAutoattachMemBalloon" => preferred_autoattach_mem_balloon: default,
    "preferredAutoattachPodInterface" => preferred_autoattach_pod_interface: default,
    "preferredAutoattachSerialConsole" => preferred_autoattach_serial_console: default,
    "preferredAutoattachInputDevice" => preferred_autoattach_input_device: default,
    "preferredDisableHotplug" => preferred_disable_hotplug: default,
    "preferredVirtualGPUOptions" => preferred_virtual_gpu_options: default,
    "preferredSoundModel" => preferred_sound_model: default,
    "preferredUseVirtioTransitional" => preferred_use_virtio_transitional: default,
    "preferredInputBus" => preferred_input_bus: default,
    "preferredInputType" => preferred_input_type: default,
    "preferredDiskBus" => preferred_disk_bus: default,
    "preferredLunBus" => preferred_lun_bus: default,
    "preferredCdromBus" => preferred_cdrom_bus: default,
    "preferredDiskDedicatedIoThread" => preferred_disk_dedicated_io_thread: default,
    "preferredDiskCache" => preferred_disk_cache: default,
    "preferredDiskIO" => preferred_disk_io: default,
    "preferredDiskBlockSize" => preferred_disk_block_size: default,
    "preferredInterfaceModel" => preferred_interface_model: default,
    "preferredRng" => preferred_rng: default,
    "preferredBlockMultiQueue" => preferred_block_multi_queue: default,
    "preferredNetworkInterfaceMultiQueue" => preferred_network_interface_multi_queue: default,
    "preferredTPM" => preferred_tpm: default,
    "preferredInterfaceMasquerade" => preferred_interface_masquerade: default,
    "preferredPanicDeviceModel" => preferred_panic_device_model: default,
    "preferredVideoType" => preferred_video_type: default,
});

struct_from_text!(FeaturePreferences {
    "preferredAcpi" => preferred_acpi: default,
    "preferredApic" => preferred_apic: default,
    "preferredHyperv" => preferred_hyperv: default,
    "preferredKvm" => preferred_kvm: default,
    "preferredPvspinlock" => preferred_pvspinlock: default,
    "preferredSmm" => preferred_smm: default,
});

struct_from_text!(FirmwarePreferences {
    "preferredUseBios" => preferred_use_bios: default,
    "preferredUseBiosSerial" => preferred_use_bios_serial: default,
    "preferredUseEfi" => preferred_use_efi: default,
    "preferredUseSecureBoot" => preferred_use_secure_boot: default,
    "preferredEfi" => preferred_efi: default,
});

struct_from_text!(MachinePreferences {
    "preferredMachineType" => preferred_machine_type: default,
});

struct_from_text!(VolumePreferences {
    "preferredStorageClassName" => preferred_storage_class_name: default,
});

struct_from_text!(PreferenceRequirements {
    "cpu" => cpu: default,
    "memory" => memory: default,
    "architecture" => architecture: default,
});

struct_from_text!(CpuRequirement {
    "guest" => guest: required,
});

struct_from_text!(MemoryRequirement {
    "guest" => guest: required,
});

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::fmt::Debug;

    use serde::de::{self, DeserializeOwned, Visitor};

    use super::*;
    use crate::engine::json_text;

    /// The field names `T`'s derived `Deserialize` hands to `deserialize_struct`.
    fn derive_fields<T: DeserializeOwned>() -> &'static [&'static str] {
        struct Capture(Cell<&'static [&'static str]>);
        impl<'de> serde::Deserializer<'de> for &Capture {
            type Error = de::value::Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
                Err(de::Error::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Self::Error> {
                self.0.set(fields);
                Err(de::Error::custom("captured"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
                unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
            }
        }
        let capture = Capture(Cell::new(&[]));
        assert!(T::deserialize(&capture).is_err());
        capture.0.get()
    }

    /// Reads `text` both ways; the reader may be unsure, but what it reads is what `serde` reads.
    fn agree<T: FromText + DeserializeOwned + PartialEq + Debug>(text: &str) -> Option<T> {
        if !json_text::vouches_for(text) || text.contains("null") {
            return None;
        }
        let read = spec_from_text::<T>(text);
        if read.is_some() {
            assert_eq!(read, serde_json::from_str::<T>(text).ok(), "{text}");
        }
        read
    }

    /// Values of every kind a member may hold, rightly or wrongly typed.
    const CANDIDATES: &[&str] = &[
        "true",
        "false",
        "0",
        "7",
        "-3",
        "-0",
        "-9223372036854775808",
        "-9223372036854775809",
        "[1,-2,-0,0.5,18446744073709551616,\"x\",[true]]",
        "4294967296",
        "18446744073709551616",
        "1.5",
        "2.0",
        r#""virtio""#,
        r#""""#,
        r#""1Gi""#,
        r#"" 2Gi ""#,
        r#""1\u0047i""#,
        r#""a\"b\u00e9""#,
        "{}",
        "[]",
        r#"{"a":"b"}"#,
        r#"{"a":{"b":[1,{}]}}"#,
        r#"[{"name":"x"}]"#,
        r#"{"$serde_json::private::RawValue":"7"}"#,
        r#"{"$serde_json::private::RawValue":1}"#,
        r#"[{"$serde_json::private::RawValue":"\"x\""}]"#,
        r#"{"a":{"$serde_json::private::RawValue":"true"}}"#,
        r#"{"guest":2}"#,
        r#"{"guest":"1Gi"}"#,
        r#"{"guest":"3Gi"}"#,
        r#"{"guest":"x"}"#,
    ];

    /// Every member of `T` set to every candidate on `base` (`T`'s required members): each member is
    /// read by some candidate (it changes the result), and whatever is read agrees with `serde`.
    fn each_member_agrees<T: FromText + DeserializeOwned + PartialEq + Debug>(fields: &[&str], base: &str) {
        assert_eq!(fields, derive_fields::<T>(), "the reader's names are the derive's");
        let base: Map<String, Value> = serde_json::from_str(base).unwrap();
        let unchanged = agree::<T>(&Value::Object(base.clone()).to_string()).expect("the base reads");
        for field in fields {
            let mut read_some = false;
            for candidate in CANDIDATES {
                // The candidate goes in as written (not every one survives a trip through a `Value`).
                let mut object = base.clone();
                object.insert((*field).to_owned(), Value::from("@candidate@"));
                let object = Value::Object(object);
                for text in [object.to_string(), serde_json::to_string_pretty(&object).unwrap()] {
                    let text = text.replace("\"@candidate@\"", candidate);
                    if agree::<T>(&text).is_some_and(|read| read != unchanged) {
                        read_some = true;
                    }
                }
            }
            assert!(read_some, "{field} is never read");
        }
    }

    #[test]
    fn every_member_is_read_as_serde_reads_it() {
        let guest_cpu = r#"{"guest":1}"#;
        let guest_memory = r#"{"guest":"1Gi"}"#;
        let instancetype = r#"{"cpu":{"guest":1},"memory":{"guest":"1Gi"}}"#;
        each_member_agrees::<InstancetypeSpec>(InstancetypeSpec::FIELDS, instancetype);
        each_member_agrees::<InstancetypeCpu>(InstancetypeCpu::FIELDS, guest_cpu);
        each_member_agrees::<InstancetypeMemory>(InstancetypeMemory::FIELDS, guest_memory);
        each_member_agrees::<IoThreads>(IoThreads::FIELDS, "{}");
        each_member_agrees::<PreferenceSpec>(PreferenceSpec::FIELDS, "{}");
        each_member_agrees::<ClockPreferences>(ClockPreferences::FIELDS, "{}");
        each_member_agrees::<CpuPreferences>(CpuPreferences::FIELDS, "{}");
        each_member_agrees::<SpreadOptions>(SpreadOptions::FIELDS, "{}");
        each_member_agrees::<DevicePreferences>(DevicePreferences::FIELDS, "{}");
        each_member_agrees::<FeaturePreferences>(FeaturePreferences::FIELDS, "{}");
        each_member_agrees::<FirmwarePreferences>(FirmwarePreferences::FIELDS, "{}");
        each_member_agrees::<MachinePreferences>(MachinePreferences::FIELDS, "{}");
        each_member_agrees::<VolumePreferences>(VolumePreferences::FIELDS, "{}");
        each_member_agrees::<PreferenceRequirements>(PreferenceRequirements::FIELDS, "{}");
        each_member_agrees::<CpuRequirement>(CpuRequirement::FIELDS, guest_cpu);
        each_member_agrees::<MemoryRequirement>(MemoryRequirement::FIELDS, guest_memory);
    }

    #[test]
    fn required_duplicate_and_unknown_members() {
        // Missing required members, a member twice, a struct given as an array: unsure (serde refuses
        // the first two; it reads the third, positionally, and the caller's fallback does too).
        for text in [
            r#"{"memory":{"guest":"1Gi"}}"#,
            r#"{"cpu":{},"memory":{"guest":"1Gi"}}"#,
            r#"{"cpu":{"guest":1,"guest":2},"memory":{"guest":"1Gi"}}"#,
            r#"{"cpu":[1],"memory":{"guest":"1Gi"}}"#,
            r#"{"cpu":{"guest":1},"memory":{"guest":"1Gi"},"cpu":{"guest":1}}"#,
            r#"{"cpu":{"gu\u0065st":1},"memory":{"guest":"1Gi"}}"#,
            r#"{"cpu":{"guest":1},"memory":{"guest":1073741824}}"#,
        ] {
            assert_eq!(spec_from_text::<InstancetypeSpec>(text), None, "{text}");
        }
        // Unknown members are skipped, whatever they hold; annotations keep the last of a name.
        let text = r#" { "x" : [1, {"y": "\u00e9"}], "cpu" : {"guest": 2, "z": {}},
            "memory": {"guest": " 2Gi "}, "annotations": {"a": "1", "a": "2", "b": "3"} } "#;
        let read = agree::<InstancetypeSpec>(text).expect("read");
        assert_eq!(read.cpu.guest, 2);
        assert_eq!(read.memory.guest, Quantity::parse("2Gi").unwrap());
        let annotations = read.annotations.expect("annotations");
        assert_eq!(annotations.get("a").map(String::as_str), Some("2"));
        assert_eq!(annotations.len(), 2);
        // Trailing text after the value is not the spec's.
        assert_eq!(spec_from_text::<IoThreads>("{} {}"), None);
    }

    #[test]
    fn the_catalogue_is_read_without_falling_back() {
        let read_bundle = |file: &str| -> Vec<Value> {
            let path = format!("{}/data/common-instancetypes/{file}", env!("CARGO_MANIFEST_DIR"));
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        for object in read_bundle("common-clusterinstancetypes-bundle.json") {
            for text in [
                object["spec"].to_string(),
                serde_json::to_string_pretty(&object["spec"]).unwrap(),
            ] {
                assert!(agree::<InstancetypeSpec>(&text).is_some(), "{text}");
            }
        }
        for object in read_bundle("common-clusterpreferences-bundle.json") {
            for text in [
                object["spec"].to_string(),
                serde_json::to_string_pretty(&object["spec"]).unwrap(),
            ] {
                assert!(agree::<PreferenceSpec>(&text).is_some(), "{text}");
            }
        }
    }

    /// A small deterministic generator (splitmix64), so a failure replays.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }
    }

    /// A random object whose member names come from the readers' tables (so most are read), with
    /// nested objects, wrong types, repeated and unknown names, escapes and whitespace.
    fn random_object(random: &mut Random, depth: usize, out: &mut String) {
        const TABLES: &[&[&str]] = &[
            InstancetypeSpec::FIELDS,
            InstancetypeCpu::FIELDS,
            InstancetypeMemory::FIELDS,
            PreferenceSpec::FIELDS,
            DevicePreferences::FIELDS,
            FeaturePreferences::FIELDS,
            FirmwarePreferences::FIELDS,
            CpuPreferences::FIELDS,
            ClockPreferences::FIELDS,
            PreferenceRequirements::FIELDS,
            &["unknown", "guest", "a", "gu\\u0065st"],
        ];
        let spaces = [" ", "", "\n  ", ""];
        let members = random.below(6);
        out.push('{');
        for index in 0..members {
            if index > 0 {
                out.push(',');
            }
            out.push_str(spaces[random.below(spaces.len())]);
            let table = TABLES[random.below(TABLES.len())];
            out.push('"');
            out.push_str(table[random.below(table.len())]);
            out.push_str("\":");
            out.push_str(spaces[random.below(spaces.len())]);
            if depth < 4 && random.below(3) == 0 {
                random_object(random, depth + 1, out);
            } else {
                out.push_str(CANDIDATES[random.below(CANDIDATES.len())]);
            }
        }
        out.push('}');
    }

    #[test]
    fn random_texts_read_as_serde_reads_them() {
        let mut random = Random(5);
        let (mut texts, mut read) = (0, 0);
        for _ in 0..40_000 {
            let mut text = String::new();
            random_object(&mut random, 0, &mut text);
            texts += 1;
            read += usize::from(agree::<PreferenceSpec>(&text).is_some());
            read += usize::from(agree::<InstancetypeSpec>(&text).is_some());
            read += usize::from(agree::<DevicePreferences>(&text).is_some());
            read += usize::from(agree::<InstancetypeCpu>(&text).is_some());
        }
        // Most texts hold a wrongly typed member somewhere; enough are read to mean something.
        assert!(read > texts / 10, "only {read} of {texts} texts were read");
    }
}
