from nanlint.launch import main

main()
