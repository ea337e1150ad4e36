# SPDX-License-Identifier: MIT OR Apache-2.0
# bash completion for qikictl
_qikictl()
{
	local cur prev words cword
	_init_completion 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
	}
	local cmds="config devices fault history link list param setpoint state stats status stop watch"
	local opts="--instance --json --timeout --interval --help --version"
	case $prev in
	-i|--instance)
		COMPREPLY=($(compgen -W "$(ls /dev/shm 2>/dev/null | sed -n 's/^qiki\.//p')" -- "$cur"))
		return ;;
	--timeout|--interval) return ;;
	esac
	local cmd="" i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-i|--instance|--timeout|--interval) ((i++)) ;;
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done
	if [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W "$cmds $opts" -- "$cur"))
		return
	fi
	case $cmd in
	state) COMPREPLY=($(compgen -W "BOOTING IDLE ACTIVE SAFE SHUTDOWN RESET" -- "$cur")) ;;
	param)
		if [ "${words[cword-1]}" = param ]; then
			COMPREPLY=($(compgen -W "list get set" -- "$cur"))
		elif [ "${words[cword-1]}" = get ] || [ "${words[cword-1]}" = set ]; then
			local names
			names=$(qikictl "${words[@]:1:cword-1}" --json param list 2>/dev/null |
				grep -o '"name":"[^"]*"' | cut -d'"' -f4)
			COMPREPLY=($(compgen -W "$names" -- "$cur"))
		fi ;;
	fault)
		local devs="imu nav tank_pressure battery_monitor temp_avionics temp_propulsion temp_battery thr_px thr_nx thr_py thr_ny thr_pz thr_nz power_unit comms controller"
		if [ "${words[cword-1]}" = fault ]; then
			COMPREPLY=($(compgen -W "clear $devs" -- "$cur"))
		elif [ "${words[cword-1]}" = clear ]; then
			COMPREPLY=($(compgen -W "all $devs" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "stuck noise bias dropout post-fail" -- "$cur"))
		fi ;;
	*) COMPREPLY=($(compgen -W "$opts" -- "$cur")) ;;
	esac
}
complete -F _qikictl qikictl
