// A console built with a bundler (webpack 5, Vite): the `web` build with its explicit `init()`,
// and the default (bundler) entry. Checked with `moduleResolution: bundler`.
import init, { PreparedObjects, expand, initSync, type ExpandResult, type InitOutput } from "kubevirt-instancetype/web";
import { validate, type ValidateResult } from "kubevirt-instancetype";

export async function preview(url: URL): Promise<ExpandResult> {
  const output: InitOutput = await init({ module_or_path: url });
  void output;
  return expand({ spec: { instancetype: { name: "u1.small" } } }, []);
}

export function previewSync(bytes: ArrayBuffer): ValidateResult {
  initSync({ module: bytes });
  return validate({ spec: {} }, []);
}

/** The React example of the package README, without React: one PreparedObjects per set of objects. */
export function previewEachEdit(edits: Parameters<typeof expand>[0][]): ExpandResult[] {
  const prepared = new PreparedObjects([]);
  try {
    return edits.map((vm) => prepared.expand(vm));
  } finally {
    prepared.free();
  }
}
