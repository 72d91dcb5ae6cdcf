/**
 * The HTTP API's public surface: createHttpServer and its option and result types. Everything
 * else in src/http is internal.
 */
export { createHttpServer, type HttpServer, type HttpServerOptions } from './server.js';
