#!/bin/sh
echo "check-man: nothing yet"
