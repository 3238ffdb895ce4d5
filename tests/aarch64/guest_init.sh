#!/bin/sh
# PID 1 of the emulated Pi (kernel command line init=...): mounts, brings up qemu's user-mode network,
# runs guest_check.sh, powers off. No systemd: booting it under full emulation would cost minutes.
# The initramfs has mounted /proc, /sys and /dev already; mounting again is harmless.
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sys /sys 2>/dev/null
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
modprobe virtio_net 2>/dev/null
ip link set lo up
# The initramfs's udev has renamed eth0 (to enp0s1): take the first interface that is not lo.
nic=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
ip link set "$nic" up
ip addr add 10.0.2.15/24 dev "$nic"
ip route add default via 10.0.2.2
echo "nameserver 10.0.2.3" >/etc/resolv.conf
/bin/bash /opt/pi-check/guest_check.sh 2>&1
sync
echo o >/proc/sysrq-trigger
sleep 60
