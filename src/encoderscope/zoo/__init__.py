"""encoderscope.zoo"""
