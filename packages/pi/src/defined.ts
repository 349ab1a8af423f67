/**
 * `definedOnly({ a, b })`: the object without its undefined-valued keys, typed so it spreads into
 * objects with optional properties under `exactOptionalPropertyTypes` — instead of writing
 * `...(a !== undefined ? { a } : {})` for every field.
 */
export type DefinedOnly<T> = {
  [K in keyof T as undefined extends T[K] ? never : K]: T[K];
} & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

export function definedOnly<T extends object>(fields: T): DefinedOnly<T> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  return out as DefinedOnly<T>;
}
