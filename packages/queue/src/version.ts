/** The version of @dfm/queue. */
export const VERSION = '0.1.0';
