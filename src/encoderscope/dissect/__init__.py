"""encoderscope.dissect"""
