"""The seed's program 9 (a `selectors` server handling client messages),
the lab's Python baseline.

Adapted only to take the port from the command line (default 8080; 0 lets
the system pick one), to print the address it listens on, so that the lab
(bench/lab.py) can find it, and to take the listen backlog (default: the
seed's 5). The lab passes 4096 (capped by the kernel's somaxconn): with 5,
a client opening 100 connections at once sees SYNs dropped and connects time
out, so the seed as written cannot be measured past a few dozen connections
(measured: 33 of 100 connects failed). Everything else
is the seed's: the default selector (epoll on Linux), accept and read
callbacks, `recv(1024)`, the reply `data.upper()` sent with one `send`, a
print per accepted client.

    python3 bench/python/selectors_echo.py [PORT [BACKLOG]]
"""
import selectors
import socket
import sys

sel = selectors.DefaultSelector()


def accept(server_fileobj, mask):
    conn, addr = server_fileobj.accept()
    print(addr)
    sel.register(conn, selectors.EVENT_READ, read)


def read(conn, mask):
    try:
        data = conn.recv(1024)
        if not data:
            print('closing..', conn)
            sel.unregister(conn)
            conn.close()
            return
        conn.send(data.upper())
    except Exception:
        print('closeing...', conn)
        sel.unregister(conn)
        conn.close()


port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
server_fileobj = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server_fileobj.bind(('127.0.0.1', port))
backlog = int(sys.argv[2]) if len(sys.argv) > 2 else 5
server_fileobj.listen(backlog)
server_fileobj.setblocking(False)
print('listening on %s:%d' % server_fileobj.getsockname(), flush=True)
sel.register(server_fileobj, selectors.EVENT_READ, accept)

while True:
    events = sel.select()
    for sel_obj, mask in events:
        callback = sel_obj.data
        callback(sel_obj.fileobj, mask)
