#!/usr/bin/env python3
"""Receives vytal-turnserver's usage datagrams (the plugin's `usage=` Unix
datagram socket) during bench/turn, so its reporting is really on and nothing
is dropped for want of a reader. Prints how many datagrams and bytes it got
when it is told to stop (SIGTERM). Node has no Unix datagram sockets.

Usage: usage_sink.py SOCKET_PATH
"""
import os
import signal
import socket
import sys

path = sys.argv[1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.bind(path)
count = 0
size = 0


def stop(*_):
    print(f"datagrams {count} bytes {size}", flush=True)
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
print("ready", flush=True)
while True:
    size += len(sock.recv(65536))
    count += 1
