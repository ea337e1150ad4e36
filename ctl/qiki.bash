# SPDX-License-Identifier: MIT OR Apache-2.0
# bash completion for qiki (the launcher)
_qiki()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local opts="--instance --profile --config --rate --wake --seed --lockstep --cycles
		--duration --fault --no-rt --prio --cpu --group --controller --log-dir --log-level
		--log-format --log-fsync-ms --log-rotate-mb --telemetry --telemetry-listen
		--telemetry-rate --foxglove --scenario --print-config --quiet --help --version"
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "run --help --version" -- "$cur"))
		return
	fi
	case $prev in
	-p|--profile) COMPREPLY=($(compgen -W "bot ship" -- "$cur")); return ;;
	-w|--wake) COMPREPLY=($(compgen -W "timer futex spin" -- "$cur")); return ;;
	--log-level) COMPREPLY=($(compgen -W "debug info warn error" -- "$cur")); return ;;
	--log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
	--group) COMPREPLY=($(compgen -g -- "$cur")); return ;;
	-c|--config|--scenario) COMPREPLY=($(compgen -f -X '!*.y*ml' -- "$cur") $(compgen -d -- "$cur")); return ;;
	--controller) COMPREPLY=($(compgen -f -X '!*.so' -- "$cur") $(compgen -d -- "$cur")); return ;;
	--telemetry|--log-dir) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-i|--instance|-r|--rate|-s|--seed|--cycles|-d|--duration|--fault|--prio|--cpu|\
	--log-fsync-ms|--log-rotate-mb|--telemetry-listen|--telemetry-rate) return ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _qiki qiki
