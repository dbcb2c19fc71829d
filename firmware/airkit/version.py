# The firmware version the kit reports in every readings message ("fw") and in
# its status message. The contract allows at most 32 characters.
# Bump it in the same commit as any change to firmware/airkit.
VERSION = "0.1.0"
