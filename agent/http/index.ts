export { HttpError, httpErrorOf, type ErrorReply, type Issue } from './http-error.js'
export { allow, Router, type Exchange, type Methods, type Params, type Route } from './router.js'
export { bearer, closeIfUnread, readJson, sendError, sendJson, sendText, validate } from './http-json.js'
export { HttpClientError, httpExchange, type HttpAnswer, type HttpRequestOptions } from './http-client.js'
