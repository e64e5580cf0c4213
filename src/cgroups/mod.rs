//! cgroups v1 and v2 behind one interface. (Being written.)
