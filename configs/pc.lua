-- The standard tandem PC. Devices are added here as they land; run with
--   tandem run configs/pc.lua [--set system.mem_size=1G] [-- key=value ...]
local system = tandem.new("System", {name = "system", mem_size = "512M"})
return system
