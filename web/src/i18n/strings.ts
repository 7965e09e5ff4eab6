/** The shape of a translation: the same keys as the English reference, any strings as values. */
export type Strings<T> = { readonly [K in keyof T]: T[K] extends string ? string : Strings<T[K]> };
