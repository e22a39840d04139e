export interface SchemaEntry {
  schema: string;
  command: string;
  types: string;
  validators: string;
  root: string;
  dispatch: 'type' | null;
}
export declare const SCHEMAS: SchemaEntry[];
export declare function banner(entry: SchemaEntry, how?: string): string;
