#!/bin/sh
echo N 2
