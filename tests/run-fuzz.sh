#!/bin/sh
echo "run-fuzz: nothing yet"
