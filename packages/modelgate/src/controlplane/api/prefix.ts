/** Every control-plane resource lives under this prefix. */
export const API_PREFIX = '/api/v1';
