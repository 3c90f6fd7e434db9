#pragma once
#define RINGFENCE_VERSION "0.1.0"
