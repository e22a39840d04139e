export declare const BANNER: string;
export declare function prepareValidationSchema(schema: unknown): unknown;
export declare function messageTypes(schema: unknown): Record<string, string>;
export declare function generateValidators(schema: unknown): { js: string; dts: string };
