#ifndef VR_VERSION_H
#define VR_VERSION_H
#define VR_VERSION "0.1.0"
#endif
