import type { SchemaEntry } from './protocol-schemas.mjs';
export declare const BANNER: string;
export declare function prepareSchema(schema: unknown, root?: string): unknown;
export declare function generateTypes(schema: unknown, entry?: SchemaEntry): Promise<string>;
