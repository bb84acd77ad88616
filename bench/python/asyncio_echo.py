"""The seed's program 11 ("write a socket server with asyncio"), the lab's
Python asyncio baseline: `asyncio.start_server` and streams, the reply
`data.upper()`, as the other echo servers.

The seed gives no code for program 11 (only a link), so this is the
canonical asyncio streams echo server written the way the seed writes its
`selectors` server (program 9): `read(1024)`, `write(data.upper())`,
`await drain()`, close at EOF. `--uvloop` runs the same server on uvloop
(`pip install uvloop`), the libuv-based loop. Prints `listening on ADDR`
first, for bench/lab.py.

    python3 bench/python/asyncio_echo.py [PORT [BACKLOG]] [--uvloop]
"""
import asyncio
import sys


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(1024)
            if not data:
                break
            writer.write(data.upper())
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(port, backlog):
    server = await asyncio.start_server(handle, '127.0.0.1', port, backlog=backlog)
    host, port = server.sockets[0].getsockname()[:2]
    print('listening on %s:%d' % (host, port), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == '__main__':
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    port = int(args[0]) if args else 8080
    backlog = int(args[1]) if len(args) > 1 else 100
    if '--uvloop' in sys.argv:
        import uvloop
        uvloop.install()
    try:
        asyncio.run(main(port, backlog))
    except KeyboardInterrupt:
        pass
