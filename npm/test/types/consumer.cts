// A TypeScript consumer of the shipped types, CommonJS under Node's resolution (`require`).
import kubevirt = require("kubevirt-instancetype");

const result: kubevirt.ExpandResult = kubevirt.expand({ spec: {} }, []);
const message: string = result.ok ? "admitted" : result.message;
const version: string = kubevirt.version();
void [message, version];
