// Test helper: a real nginx from Debian on loopback serving a directory (installed by apt-get when missing). The
// launcher itself is bench/local-nginx.ts, shared with the download bench; this is its test-side name.
export { startNginx, bytesServed, ensureNginx, type LocalNginx, type LocalNginx as NginxServer } from '../../bench/local-nginx';
