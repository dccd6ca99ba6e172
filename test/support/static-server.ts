import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

/**
 * A small static file server for the player page, Shaka Player's dist and packaged media: GET and HEAD
 * of files under mounted folders, single byte ranges (RFC 9110 §14: DASH on-demand segments are read
 * by range), no directory listings, nothing outside a mount.
 */
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.mpd': 'application/dash+xml',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.mp4': 'video/mp4',
  '.m4s': 'video/iso.segment',
  '.css': 'text/css',
};

export interface StaticServer {
  readonly origin: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** `mounts`: URL prefix (`/shaka/`, or `/` for the root) → folder. */
export async function startStaticServer(mounts: Readonly<Record<string, string>>): Promise<StaticServer> {
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const prefix = prefixes.find((candidate) => path.startsWith(candidate));
    const root = prefix === undefined ? undefined : mounts[prefix];
    const file = root === undefined || prefix === undefined ? undefined : normalize(join(root, path.slice(prefix.length)));
    let size: number | undefined;
    try {
      if (file !== undefined && root !== undefined && file.startsWith(normalize(root) + sep) && statSync(file).isFile()) size = statSync(file).size;
    } catch {
      size = undefined;
    }
    if (file === undefined || size === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'no-store');
    let start = 0;
    let end = size - 1;
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range !== null && (range[1] !== '' || range[2] !== '')) {
      if (range[1] === '') start = Math.max(0, size - Number(range[2]));
      else {
        start = Number(range[1]);
        if (range[2] !== '') end = Math.min(end, Number(range[2]));
      }
      if (start > end || start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': String(end - start + 1) });
    } else {
      res.writeHead(200, { 'Content-Length': String(size) });
    }
    if (req.method === 'HEAD') res.end();
    else createReadStream(file, { start, end }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
