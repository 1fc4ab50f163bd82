#!/bin/sh
echo "run-bench: nothing yet"
