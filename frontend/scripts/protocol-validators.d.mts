import type { SchemaEntry } from './protocol-schemas.mjs';
export declare const BANNER: string;
export declare function prepareValidationSchema(schema: unknown): unknown;
export declare function messageTypes(schema: unknown): Record<string, string>;
export declare function generateValidators(schema: unknown, entry?: SchemaEntry): { js: string; dts: string };
