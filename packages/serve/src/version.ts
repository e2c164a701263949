/** The version of @dfm/serve. */
export const VERSION = '0.1.0';
