"""encoderscope.cluster"""
