/** The SQL dialects the store speaks: the embedded default, or PostgreSQL. */
export type Dialect = 'sqlite' | 'postgres';
