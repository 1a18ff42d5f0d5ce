package delivery

// RawServer is rawServer, for the external tests.
var RawServer = rawServer
