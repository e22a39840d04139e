export declare const BANNER: string;
export declare function prepareSchema(schema: unknown): unknown;
export declare function generateTypes(schema: unknown): Promise<string>;
