#!/bin/sh
echo "run-valgrind: nothing yet"
